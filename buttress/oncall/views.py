"""On-call pages: the schedules and who is on call now, a schedule's two-week timeline, the
forms for schedules, layers, overrides and swaps, and the secret iCalendar feeds.

Schedules are fetched through access.py (another organisation's schedule is a 404, a role
that may not change it a 403) and every change goes through services.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse

from buttress.lib.ical import response as ical_response
from buttress.lib.pagination import InvalidCursor, Page, paginate
from buttress.lib.timeutil import now
from buttress.oncall import access, ical, services
from buttress.oncall.forms import LOOKUP_ROWS, LayerForm, LookupForm, OverrideForm, ScheduleForm
from buttress.oncall.models import Layer, LayerMember, Override, Schedule
from buttress.oncall.services import ScheduleShift
from buttress.tenancy.access import organizations_for
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User

PAGE_SIZE = 50
TIMELINE_DAYS = 14
UPCOMING_OVERRIDES = 50


def _require_staff(user: User) -> None:
    if not access.is_staff(user):
        raise PermissionDenied("On-call schedules are the provider staff's.")


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    _require_staff(user)
    schedules = access.schedules_for(user).select_related("organization", "team")
    pk = request.GET.get("organization")
    organization = access.get_organization_for_schedules(user, pk) if pk else None
    if organization is not None:
        schedules = schedules.for_org(organization)
    try:
        page: Page[Schedule] = paginate(
            schedules,
            order=("name", "id"),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except InvalidCursor:
        page = paginate(schedules, order=("name", "id"), limit=PAGE_SIZE)
    current = services.current_shifts(page.items, now())
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "page": page,
        "rows": [(schedule, current[schedule.pk]) for schedule in page.items],
        "organizations": organizations_for(user).only("id", "name"),
        "organization": organization,
        "can_change": access.can_change(user),
        "query": query,
        "has_feed": hasattr(user, "oncall_feed"),
    }
    return render(request, "oncall/list.html", context)


@login_required
def schedule_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    _require_staff(user)
    if not access.can_change(user):
        raise PermissionDenied("Only admins and agents change on-call schedules.")
    organizations = list(organizations_for(user).only("id", "name")[:1000])
    form = ScheduleForm(request.POST or None, organizations=organizations)
    if request.method == "POST" and form.is_valid():
        organization = form.chosen_organization(organizations)
        try:
            if organization is None:
                access.require_change(user, None, shared=True)
            schedule = services.create_schedule(
                actor=user, organization=organization, **form.service_fields()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error("organization", str(exc))
        else:
            messages.success(request, f"Schedule {schedule.name} added. Add a layer next.")
            return redirect("oncall:detail", schedule_id=schedule.pk)
    return render(request, "oncall/form.html", {"form": form, "title": "Add on-call schedule"})


@dataclass
class Bar:
    shift: ScheduleShift
    left: float
    width: float
    hue: int
    label: str


def _timeline(schedule: Schedule, first: date) -> list[tuple[date, list[Bar]]]:
    """Each of ``TIMELINE_DAYS`` local days from ``first`` with its shifts as bars (percentages
    of the local day, which lasts 23 or 25 hours on a clock change)."""
    tz = ZoneInfo(schedule.timezone)
    days = [first + timedelta(days=n) for n in range(TIMELINE_DAYS + 1)]
    edges = [datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC) for d in days]
    found = services.shifts(schedule, edges[0], edges[-1])
    rows = []
    for day, start, end in zip(days, edges, edges[1:], strict=False):
        length = (end - start).total_seconds()
        bars = []
        for shift in found:
            lo, hi = max(shift.start, start), min(shift.end, end)
            if lo >= hi:
                continue
            local_lo, local_hi = lo.astimezone(tz), hi.astimezone(tz)
            bars.append(
                Bar(
                    shift=shift,
                    left=round((lo - start).total_seconds() / length * 100, 3),
                    width=round((hi - lo).total_seconds() / length * 100, 3),
                    hue=(shift.user.pk * 67) % 360,
                    label=f"{local_lo:%H:%M}-{local_hi:%H:%M}",
                )
            )
        rows.append((day, bars))
    return rows


# An instant's shift is shown whole, up to this far either side (as the API does).
LOOKUP_HORIZON = timedelta(days=14)


def _first_day(request: HttpRequest, schedule: Schedule) -> date:
    today = now().astimezone(ZoneInfo(schedule.timezone)).date()
    try:
        chosen = date.fromisoformat(request.GET.get("from") or "")
    except ValueError:
        return today
    return chosen if date(1971, 1, 1) <= chosen <= date(2198, 1, 1) else today


def _detail_context(request: HttpRequest, user: User, schedule: Schedule) -> dict[str, Any]:
    first = _first_day(request, schedule)
    at = now()
    layers = list(
        schedule.layers.prefetch_related(
            Prefetch("members", queryset=LayerMember.objects.select_related("user"))
        ).order_by("-position", "-id")
    )
    overrides = list(
        Override.objects.filter(schedule=schedule, ends_at__gt=at)
        .select_related("user", "replaces")
        .order_by("starts_at", "id")[:UPCOMING_OVERRIDES]
    )
    return {
        "schedule": schedule,
        "current": services.current_shifts([schedule], at)[schedule.pk],
        "layers": layers,
        "overrides": overrides,
        "timeline": _timeline(schedule, first),
        "first": first,
        "previous": (first - timedelta(days=TIMELINE_DAYS)).isoformat(),
        "next": (first + timedelta(days=TIMELINE_DAYS)).isoformat(),
        "can_change": access.can_change(user, shared=schedule.organization_id is None),
        "override_form": OverrideForm(schedule=schedule),
        "has_feed": hasattr(schedule, "feed"),
    }


@login_required
def schedule_detail(request: HttpRequest, schedule_id: int) -> HttpResponse:
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id)
    context = _detail_context(request, user, schedule)
    template = "oncall/detail.html#timeline" if is_htmx(request) else "oncall/detail.html"
    return vary_on_htmx(render(request, template, context))


@login_required
def schedule_lookup(request: HttpRequest, schedule_id: int) -> HttpResponse:
    """Who is on call at an instant (``?at=``) or over a range (``?start=&end=``), read and
    shown in the schedule's time zone."""
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    asked = any(request.GET.get(name) for name in ("at", "start", "end"))
    form = LookupForm(request.GET if asked else None, schedule=schedule)
    context: dict[str, Any] = {"schedule": schedule, "form": form, "asked": asked}
    if asked and form.is_valid():
        data = form.cleaned_data
        try:
            if data["at"] is not None:
                at = data["at"]
                around = services.shifts(schedule, at - LOOKUP_HORIZON, at + LOOKUP_HORIZON)
                context["at"] = at
                context["found"] = [s for s in around if s.start <= at < s.end]
            else:
                found = services.shifts(schedule, data["start"], data["end"])
                context["start"], context["end"] = data["start"], data["end"]
                context["found"] = found[:LOOKUP_ROWS]
                context["more"] = max(0, len(found) - LOOKUP_ROWS)
        except ValidationError as exc:
            add_service_errors(form, exc)
            context.pop("found", None)
    status = 400 if asked and form.errors else 200
    return render(request, "oncall/lookup.html", context, status=status)


@login_required
def schedule_edit(request: HttpRequest, schedule_id: int) -> HttpResponse:
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    form = ScheduleForm(
        request.POST or None,
        initial=ScheduleForm.initial_for(schedule),
        organizations=[],
        editing=True,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_schedule(schedule, actor=user, **form.service_fields())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Schedule saved.")
            return redirect("oncall:detail", schedule_id=schedule.pk)
    context = {"form": form, "title": f"Edit {schedule.name}", "schedule": schedule}
    return render(request, "oncall/form.html", context)


@login_required
def schedule_delete(request: HttpRequest, schedule_id: int) -> HttpResponse:
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    if request.method == "POST":
        name = schedule.name
        services.delete_schedule(schedule, actor=user)
        messages.success(request, f"Schedule {name} deleted.")
        return redirect("oncall:list")
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete schedule {schedule.name}?",
            "warning": "Its layers, overrides, swaps and calendar feed go with it.",
            "cancel_url": reverse("oncall:detail", kwargs={"schedule_id": schedule.pk}),
        },
    )


@login_required
def layer_create(request: HttpRequest, schedule_id: int) -> HttpResponse:
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    initial = {"start_date": now().astimezone(ZoneInfo(schedule.timezone)).date()}
    form = LayerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            layer = services.add_layer(schedule, actor=user, **form.service_fields())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Layer {layer.name} added.")
            return redirect("oncall:detail", schedule_id=schedule.pk)
    context = {"form": form, "title": f"Add a layer to {schedule.name}", "schedule": schedule}
    return render(request, "oncall/form.html", context)


@login_required
def layer_edit(request: HttpRequest, layer_id: int) -> HttpResponse:
    user = current_user(request)
    layer = access.get_layer_for(user, layer_id, write=True)
    form = LayerForm(request.POST or None, initial=LayerForm.initial_for(layer))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_layer(layer, actor=user, **form.service_fields())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Layer {layer.name} saved.")
            return redirect("oncall:detail", schedule_id=layer.schedule_id)
    context = {"form": form, "title": f"Edit layer {layer.name}", "schedule": layer.schedule}
    return render(request, "oncall/form.html", context)


@login_required
def layer_delete(request: HttpRequest, layer_id: int) -> HttpResponse:
    user = current_user(request)
    layer: Layer = access.get_layer_for(user, layer_id, write=True)
    if request.method == "POST":
        services.delete_layer(layer, actor=user)
        messages.success(request, f"Layer {layer.name} deleted.")
        return redirect("oncall:detail", schedule_id=layer.schedule_id)
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete layer {layer.name}?",
            "warning": "Its participants stop being on call through it at once.",
            "cancel_url": reverse("oncall:detail", kwargs={"schedule_id": layer.schedule_id}),
        },
    )


@login_required
def override_create(request: HttpRequest, schedule_id: int) -> HttpResponse:
    """An override or a swap; from the schedule page's form (HTMX) or on its own page."""
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    form = OverrideForm(request.POST or None, schedule=schedule)
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            if "replaces" in fields:
                services.add_swap(schedule, actor=user, **fields)
            else:
                services.add_override(schedule, actor=user, **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not is_htmx(request):
                messages.success(request, "Saved.")
                return redirect("oncall:detail", schedule_id=schedule.pk)
            context = _detail_context(request, user, schedule)
            return vary_on_htmx(render(request, "oncall/detail.html#timeline", context))
    if is_htmx(request):
        context = _detail_context(request, user, schedule)
        context["override_form"] = form
        return vary_on_htmx(render(request, "oncall/detail.html#timeline", context))
    context = {"form": form, "title": f"Override or swap on {schedule.name}", "schedule": schedule}
    return render(request, "oncall/form.html", context)


@login_required
def override_delete(request: HttpRequest, override_id: int) -> HttpResponse:
    user = current_user(request)
    override = access.get_override_for(user, override_id, write=True)
    schedule = override.schedule
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    services.delete_override(override, actor=user)
    if is_htmx(request):
        context = _detail_context(request, user, schedule)
        return vary_on_htmx(render(request, "oncall/detail.html#timeline", context))
    messages.success(request, "Removed.")
    return redirect("oncall:detail", schedule_id=schedule.pk)


@login_required
def schedule_feed(request: HttpRequest, schedule_id: int) -> HttpResponse:
    """Issue (or replace) the schedule's secret calendar address and show it once."""
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    token = services.rotate_schedule_feed(schedule, actor=user)
    return render(request, "oncall/feed_issued.html", _feed_context(request, token, schedule))


@login_required
def my_feed(request: HttpRequest) -> HttpResponse:
    """Issue (or replace) the signed-in person's secret on-call calendar address."""
    user = current_user(request)
    _require_staff(user)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    token = services.rotate_user_feed(user, actor=user)
    return render(request, "oncall/feed_issued.html", _feed_context(request, token, None))


def _feed_context(request: HttpRequest, token: str, schedule: Schedule | None) -> dict[str, Any]:
    path = reverse("oncall:feed", kwargs={"token": token})
    url = request.build_absolute_uri(path)
    return {"url": url, "webcal": "webcal://" + url.split("://", 1)[-1], "schedule": schedule}


def feed(request: HttpRequest, token: str) -> HttpResponse:
    """A secret feed address: the address itself is the permission (calendar programs sign in
    with nothing else)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    found = services.feed_for_token(token)
    if found is None:
        raise Http404("No such calendar.")
    response = ical_response(ical.feed(found), filename="on-call.ics")
    response["Cache-Control"] = "private, max-age=300"
    return response
