"""Maintenance pages: the list, a month calendar, the window's page and form, the iCalendar feed.

Windows are fetched through access.py (another organisation's window is a 404, a role that
may not change it a 403) and every change goes through services.py.
"""

from __future__ import annotations

import calendar as monthly
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse

from buttress.lib.ical import response as ical_response
from buttress.lib.pagination import InvalidCursor, Page, paginate
from buttress.lib.timeutil import now
from buttress.maintenance import access, ical, services
from buttress.maintenance import occurrences as engine
from buttress.maintenance.forms import WindowForm, add_window_errors
from buttress.maintenance.models import MaintenanceWindow
from buttress.tenancy.access import Capability, organizations_for, require
from buttress.web.orgfilter import selected_organization
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization

PAGE_SIZE = 50
UPCOMING_DAYS = 90
UPCOMING_PER_WINDOW = 3
CALENDAR_WINDOWS = 500
ORDER = ("starts_at", "id")


def _chosen_organization(request: HttpRequest, user: User) -> Organization | None:
    """The organisation the page is filtered by: ``?organization=`` or the header's switcher."""
    pk = request.GET.get("organization")
    if pk:
        return access.get_organization_for_windows(user, pk)
    default = selected_organization(request)
    if default is not None and organizations_for(user).filter(pk=default.pk).exists():
        return default
    orgs = list(organizations_for(user)[:2])
    return orgs[0] if len(orgs) == 1 else None


def _visible(user: User, organization: Organization | None) -> Any:
    if organization is not None:
        return MaintenanceWindow.objects.for_org(organization)
    return access.windows_for(user)


@login_required
def window_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require(user, Capability.VIEW_CMDB)
    organization = _chosen_organization(request, user)
    windows = _visible(user, organization).select_related("organization")
    cursor = request.GET.get("cursor") or None
    try:
        page: Page[MaintenanceWindow] = paginate(
            windows, order=ORDER, cursor=cursor, limit=PAGE_SIZE
        )
    except InvalidCursor:
        page = paginate(windows, order=ORDER, limit=PAGE_SIZE)
    at = now()
    upcoming = services.upcoming(
        page.items, at, at + timedelta(days=UPCOMING_DAYS), limit=UPCOMING_PER_WINDOW
    )
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "page": page,
        "rows": [(window, upcoming.get(window.pk, [])) for window in page.items],
        "organizations": organizations_for(user).only("id", "name"),
        "organization": organization,
        "can_change": access.can_change(user),
        "query": query,
    }
    return render(request, "maintenance/list.html", context)


def _month(text: str | None) -> date:
    if text:
        try:
            month = date.fromisoformat(f"{text}-01")
        except ValueError:
            pass
        else:
            # Far enough either way for any window, and clear of date's limits.
            if 1970 <= month.year <= 2200:
                return month
    return now().date().replace(day=1)


def _zone(text: str | None) -> str:
    try:
        engine.zone(text or "UTC")
    except engine.RecurrenceError:
        return "UTC"
    return text or "UTC"


@login_required
def window_calendar(request: HttpRequest) -> HttpResponse:
    """A month grid with every occurrence on each day it touches, in the chosen time zone."""
    user = current_user(request)
    require(user, Capability.VIEW_CMDB)
    organization = _chosen_organization(request, user)
    month = _month(request.GET.get("month"))
    zone_name = _zone(request.GET.get("tz"))
    tz = ZoneInfo(zone_name)
    first = datetime(month.year, month.month, 1, tzinfo=tz)
    following = (month + timedelta(days=32)).replace(day=1)
    last = datetime(following.year, following.month, 1, tzinfo=tz)
    start, end = first.astimezone(UTC), last.astimezone(UTC)
    windows = list(
        _visible(user, organization)
        .may_overlap(start, end)
        .select_related("organization")
        .order_by(*ORDER)[:CALENDAR_WINDOWS]
    )
    by_day: dict[date, list[tuple[datetime, datetime, MaintenanceWindow]]] = {}
    for window in windows:
        try:
            spans = window.occurrences(start, end)
        except engine.TooManyOccurrences:
            continue
        for begin, finish in spans:
            local_begin, local_end = begin.astimezone(tz), finish.astimezone(tz)
            day = max(local_begin.date(), month)
            while day < following and datetime(day.year, day.month, day.day, tzinfo=tz) < local_end:
                by_day.setdefault(day, []).append((local_begin, local_end, window))
                day += timedelta(days=1)
    weeks = [
        [(day, sorted(by_day.get(day, []), key=lambda o: (o[0], o[2].pk))) for day in week]
        for week in monthly.Calendar().monthdatescalendar(month.year, month.month)
    ]
    previous = (month - timedelta(days=1)).replace(day=1)
    context = {
        "weeks": weeks,
        "month": month,
        "previous": previous.strftime("%Y-%m"),
        "next": following.strftime("%Y-%m"),
        "zone": zone_name,
        "organization": organization,
        "organizations": organizations_for(user).only("id", "name"),
        "truncated": len(windows) == CALENDAR_WINDOWS,
    }
    return render(request, "maintenance/calendar.html", context)


@login_required
def window_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_change(user)
    pk = request.POST.get("organization") or request.GET.get("organization")
    organization = (
        access.get_organization_for_windows(user, pk, write=True)
        if pk
        else _chosen_organization(request, user)
    )
    if organization is None:
        # The assets and monitors to choose from are one organisation's: pick it first.
        choose: dict[str, Any] = {"organizations": organizations_for(user).only("id", "name")}
        return render(request, "maintenance/choose_organization.html", choose)
    form = WindowForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            window = services.create_window(organization, actor=user, **form.service_fields())
        except ValidationError as exc:
            add_window_errors(form, exc)
        else:
            messages.success(request, f"Maintenance window {window.name} added.")
            return redirect("maintenance:detail", window_id=window.pk)
    context = {"form": form, "window": None, "organization": organization}
    return render(request, "maintenance/form.html", context)


@login_required
def window_detail(request: HttpRequest, window_id: int) -> HttpResponse:
    user = current_user(request)
    window = access.get_window_for(user, window_id)
    at = now()
    try:
        coming = window.occurrences(at, at + timedelta(days=366))[:10]
        too_many = False
    except engine.TooManyOccurrences:
        coming, too_many = [], True
    tz = ZoneInfo(window.timezone)
    context = {
        "window": window,
        "assets": window.assets.only("id", "name"),
        "monitors": window.monitors.only("id", "name"),
        "coming": [(begin.astimezone(tz), finish.astimezone(tz)) for begin, finish in coming],
        "too_many": too_many,
        "on_now": services.ids_on_at([window], at) == [window.pk],
        "can_change": access.can_change(user),
    }
    return render(request, "maintenance/detail.html", context)


@login_required
def window_edit(request: HttpRequest, window_id: int) -> HttpResponse:
    user = current_user(request)
    window = access.get_window_for(user, window_id, write=True)
    form = WindowForm(
        request.POST or None,
        initial=WindowForm.initial_for(window),
        organization=window.organization,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_window(window, actor=user, **form.service_fields())
        except ValidationError as exc:
            add_window_errors(form, exc)
        else:
            messages.success(request, "Maintenance window saved.")
            return redirect("maintenance:detail", window_id=window.pk)
    context = {"form": form, "window": window, "organization": window.organization}
    return render(request, "maintenance/form.html", context)


@login_required
def window_delete(request: HttpRequest, window_id: int) -> HttpResponse:
    user = current_user(request)
    window = access.get_window_for(user, window_id, write=True)
    if request.method == "POST":
        name = window.name
        services.delete_window(window, actor=user)
        messages.success(request, f"Maintenance window {name} deleted.")
        return redirect("maintenance:list")
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete maintenance window {window.name}?",
            "warning": "Alerts and SLA clocks it holds back take up again at once.",
            "cancel_url": reverse("maintenance:detail", kwargs={"window_id": window.pk}),
        },
    )


@login_required
def calendar_feed(request: HttpRequest, slug: str) -> HttpResponse:
    """The organisation's windows as iCalendar, for staff and the organisation's own users."""
    organization = access.get_organization_for_calendar(current_user(request), slug=slug)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return ical_response(
        ical.organization_feed(organization), filename=f"{organization.slug}-maintenance.ics"
    )
