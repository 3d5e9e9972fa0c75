"""The monitor pages: the list with status, and each monitor with its pings and state changes.

Monitors are created and edited through the API (`/api/v1/monitors`); these pages show them
and pause or resume them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from buttress.lib.pagination import InvalidCursor, paginate
from buttress.monitoring import services
from buttress.monitoring.access import can_change, get_monitor_for, monitors_for
from buttress.monitoring.models import MonitorKind, MonitorStatus
from buttress.tenancy.access import organizations_for
from buttress.web.orgfilter import selected_organization
from buttress.web.users import current_user

PAGE_SIZE = 50
RECENT = 50


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
    context: dict[str, Any] = {
        "page": page,
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
    context = {
        "monitor": monitor,
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
