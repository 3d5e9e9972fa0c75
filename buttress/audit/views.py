from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone

from buttress.audit.access import entries_for
from buttress.audit.forms import AuditFilterForm
from buttress.audit.models import AuditEntry, AuditEntryQuerySet
from buttress.lib.pagination import InvalidCursor, Page, paginate
from buttress.tenancy.access import (
    Capability,
    require,
)
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.orgfilter import selected_organization
from buttress.web.users import current_user

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from buttress.accounts.models import User

PAGE_SIZE = 50
ORDER = ("-at", "-id")


def visible_entries(user: User) -> AuditEntryQuerySet:
    return entries_for(user).select_related("organization")


def _filtered(entries: AuditEntryQuerySet, data: dict[str, Any]) -> AuditEntryQuerySet:
    if text := data.get("q"):
        entries = entries.filter(Q(object_repr__icontains=text) | Q(actor_label__icontains=text))
    if org := data.get("org"):
        entries = entries.filter(organization=org)
    if object_type := data.get("object_type"):
        entries = entries.filter(object_type=object_type)
    if object_id := data.get("object_id"):
        entries = entries.filter(object_id=object_id)
    if action := data.get("action"):
        entries = entries.filter(action=action)
    if actor := data.get("actor"):
        entries = entries.filter(actor_label__icontains=actor)
    zone = timezone.get_current_timezone()
    if since := data.get("since"):
        entries = entries.filter(at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=zone))
    if until := data.get("until"):
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        entries = entries.filter(at__lt=end)
    return entries


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    require(current_user(request), Capability.VIEW_AUDIT)
    data = request.GET.copy()
    if "org" not in data and (default := selected_organization(request)) is not None:
        data["org"] = str(default.pk)
    form = AuditFilterForm(data, user=current_user(request))
    form.is_valid()
    # Invalid filters are reported on the form and left out; the valid ones still apply.
    entries = _filtered(visible_entries(current_user(request)), form.cleaned_data)
    cursor = request.GET.get("cursor") or None
    try:
        page: Page[AuditEntry] = paginate(entries, order=ORDER, cursor=cursor, limit=PAGE_SIZE)
    except InvalidCursor:
        messages.warning(request, "That page link is no longer valid; showing the newest entries.")
        page = paginate(entries, order=ORDER, limit=PAGE_SIZE)
    query = data.copy()
    query.pop("cursor", None)
    context = {"form": form, "page": page, "query": query}
    template = "audit/list.html#results" if is_htmx(request) else "audit/list.html"
    return vary_on_htmx(render(request, template, context))
