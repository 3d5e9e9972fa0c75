"""The monitor pages: the list with status, daily uptime and latency sparklines, each
monitor with its uptime, latency chart, results, incidents, pings and state changes, and the
forms that add, change, pause and delete monitors.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse

from buttress.lib.pagination import InvalidCursor, paginate
from buttress.lib.timeutil import now
from buttress.monitoring import charts, history, latency, services, summary, uptime
from buttress.monitoring.access import (
    can_change,
    get_monitor_for,
    get_organization_for_monitors,
    monitors_for,
    require_change,
)
from buttress.monitoring.forms import MonitorForm, add_monitor_errors
from buttress.monitoring.models import MonitorKind, MonitorStatus, RollupLevel
from buttress.tenancy.access import organizations_for
from buttress.tenancy.models import Organization
from buttress.web.orgfilter import selected_organization
from buttress.web.users import current_user

PAGE_SIZE = 50
RECENT = 50
BAR_DAYS = 30
SPARK_HOURS = 24
SPARK_WIDTH, SPARK_HEIGHT = 120, 24
# The latency chart's periods: (label, span, rollup level).
CHART_PERIODS: dict[str, tuple[str, timedelta, str]] = {
    "24h": ("24 hours", timedelta(hours=24), RollupLevel.MINUTE),
    "7d": ("7 days", timedelta(days=7), RollupLevel.HOUR),
    "30d": ("30 days", timedelta(days=30), RollupLevel.HOUR),
}
DETAIL_PERIODS: tuple[tuple[str, timedelta], ...] = (
    ("24 hours", timedelta(hours=24)),
    ("7 days", timedelta(days=7)),
    ("30 days", timedelta(days=30)),
)


def _level(fraction: float | None) -> str:
    if fraction is None:
        return "none"
    if fraction >= 1:
        return "full"
    if fraction >= 0.99:
        return "minor"
    return "major"


def _sparkline(
    points: list[tuple[datetime, float | None]], start: datetime, end: datetime
) -> dict[str, Any]:
    """The median latency of each hour as a small line, and the newest figure."""
    values = [v for _at, v in points if v is not None]
    top = charts.nice_top(values)
    return {
        "path": charts.path(
            points,
            start=start,
            end=end,
            top=top,
            width=SPARK_WIDTH,
            height=SPARK_HEIGHT,
            max_gap=timedelta(hours=1),
        ),
        "latest": values[-1] if values else None,
        "top": top,
    }


def _bars(days: list[uptime.Uptime]) -> dict[str, Any]:
    """One bar a day and the whole period's figure, for the list."""
    up = sum((day.up for day in days), timedelta(0))
    down = sum((day.down for day in days), timedelta(0))
    total = up + down
    return {
        "days": [
            {
                "level": _level(day.fraction),
                "date": day.start,
                "percent": day.percent,
            }
            for day in days
        ],
        "percent": up / total * 100 if total else None,
    }


@login_required
def monitor_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    monitors = monitors_for(user).select_related("organization", "asset")
    organizations = list(organizations_for(user).only("id", "name"))
    org_id = request.GET.get("org")
    if org_id is None and (default := selected_organization(request)) is not None:
        org_id = str(default.pk)
    if org_id and org_id.isdigit():
        monitors = monitors.filter(organization_id=int(org_id))
    status = request.GET.get("status", "")
    if status in MonitorStatus.values:
        monitors = monitors.filter(status=status)
    kind = request.GET.get("kind", "")
    if kind in MonitorKind.values:
        monitors = monitors.filter(kind=kind)
    order = ("name", "id")
    try:
        page = paginate(monitors, order=order, cursor=request.GET.get("cursor"), limit=PAGE_SIZE)
    except InvalidCursor:
        messages.warning(request, "That page link is no longer valid; showing the first page.")
        page = paginate(monitors, order=order, limit=PAGE_SIZE)
    query = request.GET.copy()
    query.pop("cursor", None)
    # Today's bar ends now; one query for the page's statuses, one for their changes.
    at = now()
    days = uptime.days(at, BAR_DAYS)
    ids = [m.pk for m in page.items]
    bars = history.uptime_by_period(ids, days)
    # One query for the page's hourly medians (the current hour is not rolled up yet).
    spark_end = summary.floor("hour", at)
    spark_start = spark_end - timedelta(hours=SPARK_HOURS)
    sparks = latency.sparklines(ids, level=RollupLevel.HOUR, since=spark_start, until=spark_end)
    context: dict[str, Any] = {
        "page": page,
        "rows": [
            (
                monitor,
                _bars(bars.get(monitor.pk, [])),
                _sparkline(sparks.get(monitor.pk, []), spark_start, spark_end),
            )
            for monitor in page.items
        ],
        "spark_hours": SPARK_HOURS,
        "spark_width": SPARK_WIDTH,
        "spark_height": SPARK_HEIGHT,
        "bar_days": BAR_DAYS,
        "can_change": can_change(user),
        "query": query,
        "organizations": organizations,
        "org_id": org_id or "",
        "status": status,
        "kind": kind,
        "statuses": MonitorStatus.choices,
        "kinds": MonitorKind.choices,
        "show_org": len(organizations) > 1 and not org_id,
    }
    return render(request, "monitoring/list.html", context)


@login_required
def monitor_detail(request: HttpRequest, monitor_id: int) -> HttpResponse:
    user = current_user(request)
    monitor = get_monitor_for(user, monitor_id)
    exclude = request.GET.get("maintenance") == "exclude"
    at = now()
    try:
        figures = [
            (label, history.uptime(monitor, start=at - span, end=at, exclude_maintenance=exclude))
            for label, span in DETAIL_PERIODS
        ]
    except ValidationError:
        # A maintenance rule too dense to expand over the period: show the raw figures.
        exclude = False
        figures = [
            (label, history.uptime(monitor, start=at - span, end=at))
            for label, span in DETAIL_PERIODS
        ]
    chosen = request.GET.get("latency", "24h")
    if chosen not in CHART_PERIODS:
        chosen = "24h"
    label, span, level = CHART_PERIODS[chosen]
    until = summary.floor("minute", at)
    rollups = latency.series(monitor, level=level, since=until - span, until=until)
    latency_chart = charts.chart(
        {
            "p50": [(r.start, r.p50_ms) for r in rollups],
            "p95": [(r.start, r.p95_ms) for r in rollups],
            "max": [(r.start, r.max_ms) for r in rollups],
        },
        start=until - span,
        end=until,
        step=summary.LEVELS[level],
    )
    context = {
        "monitor": monitor,
        "chart": latency_chart,
        "chart_label": label,
        "chart_choice": chosen,
        "chart_periods": [(key, value[0]) for key, value in CHART_PERIODS.items()],
        "chart_level": level,
        "chart_checks": sum(r.count for r in rollups),
        "chart_failures": sum(r.failures for r in rollups),
        "results": list(monitor.results.order_by("-at", "-id")[:RECENT]),
        "incidents": list(
            monitor.incidents.select_related("ticket").order_by("-opened_at", "-id")[:RECENT]
        ),
        "uptimes": figures,
        "exclude_maintenance": exclude,
        "ping_url": services.ping_url(monitor) if monitor.is_heartbeat else "",
        "pings": list(monitor.pings.order_by("-n")[:RECENT]),
        "changes": list(monitor.state_changes.order_by("-at", "-id")[:RECENT]),
        "can_change": can_change(user),
    }
    return render(request, "monitoring/detail.html", context)


@login_required
def monitor_pause(request: HttpRequest, monitor_id: int) -> HttpResponse:
    """Pause (or, with ``resume``, resume) the monitor."""
    user = current_user(request)
    monitor = get_monitor_for(user, monitor_id, write=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.POST.get("resume"):
        services.resume_monitor(monitor, actor=user)
        messages.success(request, f"{monitor.name} is judged again.")
    else:
        services.pause_monitor(monitor, actor=user)
        messages.success(request, f"{monitor.name} is paused.")
    return redirect("monitoring:detail", monitor_id=monitor.pk)


def _chosen_organization(request: HttpRequest) -> Organization | None:
    """The organisation a new monitor belongs to: sent, the header's choice, or the only one."""
    user = current_user(request)
    pk = request.POST.get("organization") or request.GET.get("organization")
    if pk:
        return get_organization_for_monitors(user, pk, write=True)
    default = selected_organization(request)
    if default is not None and organizations_for(user).filter(pk=default.pk).exists():
        return default
    orgs = list(organizations_for(user)[:2])
    return orgs[0] if len(orgs) == 1 else None


def _kind(request: HttpRequest) -> str:
    kind = request.POST.get("kind") or request.GET.get("kind") or MonitorKind.HTTP
    return kind if kind in MonitorKind.values else MonitorKind.HTTP


def _form_page(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    # Changing the kind asks for the kind's fields only (HTMX); a full page otherwise.
    if request.headers.get("HX-Request") and request.method == "GET":
        return render(request, "monitoring/_kind_fields.html", context)
    return render(request, "monitoring/form.html", context)


@login_required
def monitor_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require_change(user)
    organization = _chosen_organization(request)
    if organization is None:
        # The assets to choose from are one organisation's: pick it first.
        choose = {"organizations": organizations_for(user).only("id", "name")}
        return render(request, "monitoring/choose_organization.html", choose)
    kind = _kind(request)
    data = request.POST if request.method == "POST" else None
    form = MonitorForm(data, organization=organization, kind=kind, initial={"kind": kind})
    form.fields["kind"].widget.attrs.update(
        {
            "hx-get": reverse("monitoring:create"),
            "hx-target": "#kind-fields",
            "hx-swap": "outerHTML",
            "hx-include": "[name=organization]",
            "hx-trigger": "change",
        }
    )
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        if fields is not None:
            try:
                monitor = services.create_monitor(
                    organization, actor=user, kind=form.check_kind, **fields
                )
            except ValidationError as exc:
                add_monitor_errors(form, exc)
            else:
                messages.success(request, f"Monitor {monitor.name} added.")
                return redirect("monitoring:detail", monitor_id=monitor.pk)
    context = {"form": form, "monitor": None, "organization": organization}
    return _form_page(request, context)


@login_required
def monitor_edit(request: HttpRequest, monitor_id: int) -> HttpResponse:
    user = current_user(request)
    monitor = get_monitor_for(user, monitor_id, write=True)
    data = request.POST if request.method == "POST" else None
    form = MonitorForm(data, organization=monitor.organization, kind=monitor.kind, monitor=monitor)
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        if fields is not None:
            try:
                services.update_monitor(monitor, actor=user, **fields)
            except ValidationError as exc:
                add_monitor_errors(form, exc)
            else:
                messages.success(request, f"Monitor {monitor.name} saved.")
                return redirect("monitoring:detail", monitor_id=monitor.pk)
    context = {"form": form, "monitor": monitor, "organization": monitor.organization}
    return _form_page(request, context)


@login_required
def monitor_delete(request: HttpRequest, monitor_id: int) -> HttpResponse:
    user = current_user(request)
    monitor = get_monitor_for(user, monitor_id, write=True)
    if request.method == "POST":
        name = monitor.name
        services.delete_monitor(monitor, actor=user)
        messages.success(request, f"Monitor {name} deleted.")
        return redirect("monitoring:list")
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete monitor {monitor.name}?",
            "warning": "Its pings and state history are deleted with it.",
            "cancel_url": reverse("monitoring:detail", kwargs={"monitor_id": monitor.pk}),
        },
    )
