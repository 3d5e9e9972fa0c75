"""The only place that changes on-call schedules, and the questions other apps ask of them.

Other apps ask :func:`on_call` (who is on call for a schedule at an instant, as users) and
:func:`shifts` (the final shifts over a range); the engine (:mod:`buttress.oncall.engine`)
does the arithmetic.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Prefetch, Q, QuerySet

from buttress.accounts.models import STAFF_ROLES, Team, User
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.lib.timeutil import now
from buttress.oncall import engine
from buttress.oncall.models import (
    CalendarFeed,
    FeedKind,
    Layer,
    LayerMember,
    Override,
    OverrideKind,
    Rotation,
    Schedule,
    ShiftUnit,
    format_restrictions,
    parse_restrictions,
)
from buttress.tenancy.access import organizations_for

if TYPE_CHECKING:
    from buttress.tenancy.models import Organization

SCHEDULE_FIELDS = ("organization", "name", "description", "timezone", "team")
SCHEDULE_EDITABLE = frozenset(SCHEDULE_FIELDS) - {"organization"}
LAYER_FIELDS = (
    "name",
    "position",
    "rotation",
    "shift_length",
    "shift_unit",
    "start_date",
    "handoff_time",
    "restrictions",
)
OVERRIDE_FIELDS = ("kind", "user", "replaces", "starts_at", "ends_at", "note")
MAX_NAME = 120
MAX_DESCRIPTION = 10_000
MAX_NOTE = 500
MAX_LAYERS = 20
MAX_PARTICIPANTS = 100
# Custom shifts: at most a year of hours, or 366 days.
MAX_SHIFT = {ShiftUnit.HOURS: 366 * 24, ShiftUnit.DAYS: 366}
MAX_OVERRIDE = timedelta(days=366)
# One question about a range applies at most this many overrides (the earliest by start).
MAX_OVERRIDES_IN_RANGE = 5000
POSITION_STEP = 10
FIRST_DAY, LAST_DAY = date(1971, 1, 1), date(2199, 1, 1)


@dataclass(frozen=True)
class ScheduleShift:
    """A final shift: who, when, and from which layer or override."""

    schedule: Schedule
    start: datetime
    end: datetime
    user: User
    layer: Layer | None
    override: Override | None

    @property
    def source(self) -> str:
        if self.override is not None:
            return self.override.kind
        return "layer"


# --- validation ------------------------------------------------------------------------------


def _text(field: str, value: Any, *, limit: int, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationError({field: f"A {field} is required."})
    if len(text) > limit:
        raise ValidationError({field: f"At most {limit} characters."})
    return text


def _zone(value: Any) -> str:
    try:
        engine.zone(value)
    except engine.ScheduleError as exc:
        raise ValidationError({"timezone": str(exc)}) from exc
    return str(value)


def _team(value: Any) -> Team | None:
    if value in (None, ""):
        return None
    if isinstance(value, Team):
        return value
    try:
        return Team.objects.get(pk=int(value))
    except (Team.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise ValidationError({"team": f"No team {value!r}."}) from exc


def _aware(field: str, value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError({field: "Give a date and time with a UTC offset."})
    if not FIRST_DAY.year <= value.year < LAST_DAY.year:
        raise ValidationError({field: f"Give a time between {FIRST_DAY.year} and {LAST_DAY.year}."})
    return value


def _participants(schedule: Schedule, users: Iterable[Any]) -> list[User]:
    """Active provider staff who may see the schedule's organisation, in the order given."""
    wanted = list(users)
    if not wanted:
        raise ValidationError({"participants": "A layer needs at least one participant."})
    if len(wanted) > MAX_PARTICIPANTS:
        raise ValidationError({"participants": f"At most {MAX_PARTICIPANTS} turns."})
    ids = []
    for item in wanted:
        pk = item.pk if isinstance(item, User) else item
        if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
            raise ValidationError({"participants": f"{item!r} is not a user id."})
        ids.append(pk)
    found = User.objects.in_bulk(set(ids))
    result = []
    for pk in ids:
        user = found.get(pk)
        if user is None or not user.is_active or user.role not in STAFF_ROLES:
            raise ValidationError(
                {"participants": f"User {pk} is not an active member of the provider's staff."}
            )
        if (
            schedule.organization_id is not None
            and not organizations_for(user).filter(pk=schedule.organization_id).exists()
        ):
            raise ValidationError(
                {"participants": f"{user.email} may not see {schedule.organization}."}
            )
        result.append(user)
    return result


def _on_call_user(schedule: Schedule, value: Any, field: str) -> User:
    try:
        [user] = _participants(schedule, [value])
    except ValidationError as exc:
        raise ValidationError({field: exc.message_dict["participants"]}) from exc
    return user


# --- schedules -------------------------------------------------------------------------------


@transaction.atomic
def create_schedule(
    *,
    actor: User | None,
    organization: Organization | None,
    name: str,
    timezone: str = "UTC",
    description: str = "",
    team: Team | int | None = None,
) -> Schedule:
    schedule = Schedule.objects.create(
        organization=organization,
        name=_text("name", name, limit=MAX_NAME, required=True),
        description=_text("description", description, limit=MAX_DESCRIPTION, required=False),
        timezone=_zone(timezone),
        team=_team(team),
    )
    audit.record_create(schedule, actor=actor, organization=organization, fields=SCHEDULE_FIELDS)
    return schedule


@transaction.atomic
def update_schedule(schedule: Schedule, *, actor: User | None, **changes: Any) -> Schedule:
    unknown = set(changes) - SCHEDULE_EDITABLE
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed."))
    before = audit.snapshot(schedule, SCHEDULE_FIELDS)
    if "name" in changes:
        schedule.name = _text("name", changes["name"], limit=MAX_NAME, required=True)
    if "description" in changes:
        schedule.description = _text(
            "description", changes["description"], limit=MAX_DESCRIPTION, required=False
        )
    if "timezone" in changes:
        schedule.timezone = _zone(changes["timezone"])
    if "team" in changes:
        schedule.team = _team(changes["team"])
    schedule.save()
    audit.record_update(
        schedule,
        actor=actor,
        organization=schedule.organization,
        before=before,
        fields=SCHEDULE_FIELDS,
    )
    return schedule


@transaction.atomic
def delete_schedule(schedule: Schedule, *, actor: User | None) -> None:
    audit.record_delete(
        schedule,
        actor=actor,
        organization=schedule.organization,
        fields=SCHEDULE_FIELDS,
        object_id=schedule.pk,
    )
    schedule.delete()


# --- layers ----------------------------------------------------------------------------------


def _layer_values(fields: dict[str, Any]) -> dict[str, Any]:
    rotation = fields["rotation"]
    if rotation not in Rotation.values:
        raise ValidationError({"rotation": f"One of {', '.join(Rotation.values)}."})
    unit = fields["shift_unit"]
    if unit not in ShiftUnit.values:
        raise ValidationError({"shift_unit": f"One of {', '.join(ShiftUnit.values)}."})
    length = fields["shift_length"]
    if rotation != Rotation.CUSTOM:
        length, unit = (1 if rotation == Rotation.DAILY else 7), ShiftUnit.DAYS
    elif (
        isinstance(length, bool)
        or not isinstance(length, int)
        or not 1 <= length <= MAX_SHIFT[unit]
    ):
        raise ValidationError(
            {"shift_length": f"A whole number of {unit} from 1 to {MAX_SHIFT[unit]}."}
        )
    start_date = fields["start_date"]
    if not isinstance(start_date, date) or isinstance(start_date, datetime):
        raise ValidationError({"start_date": "Give a date (YYYY-MM-DD)."})
    if not FIRST_DAY <= start_date < LAST_DAY:
        raise ValidationError(
            {"start_date": f"Give a date between {FIRST_DAY.year} and {LAST_DAY.year}."}
        )
    handoff = fields["handoff_time"]
    if not isinstance(handoff, time) or handoff.tzinfo is not None:
        raise ValidationError({"handoff_time": "Give a local time (HH:MM)."})
    try:
        restrictions = parse_restrictions(fields["restrictions"])
    except ValueError as exc:
        raise ValidationError({"restrictions": str(exc)}) from exc
    return {
        "name": _text("name", fields["name"], limit=MAX_NAME, required=True),
        "rotation": rotation,
        "shift_length": length,
        "shift_unit": unit,
        "start_date": start_date,
        "handoff_time": handoff.replace(second=0, microsecond=0),
        "restrictions": format_restrictions(restrictions),
    }


def _layer_snapshot(layer: Layer) -> dict[str, Any]:
    found = audit.snapshot(layer, LAYER_FIELDS)
    found["participants"] = [m.user.email for m in layer.members.select_related("user")]
    return found


def _set_members(layer: Layer, users: Sequence[User]) -> None:
    layer.members.all().delete()
    LayerMember.objects.bulk_create(
        LayerMember(layer=layer, user=user, position=index) for index, user in enumerate(users)
    )


@transaction.atomic
def add_layer(
    schedule: Schedule,
    *,
    actor: User | None,
    name: str,
    participants: Iterable[Any],
    start_date: date,
    handoff_time: time = time(9),
    rotation: str = Rotation.WEEKLY,
    shift_length: int = 1,
    shift_unit: str = ShiftUnit.DAYS,
    restrictions: Any = None,
    position: int | None = None,
) -> Layer:
    """A new layer, on top of the others unless ``position`` says where."""
    # Lock the schedule so that two layers added at once do not take one position.
    Schedule.objects.select_for_update().filter(pk=schedule.pk).first()
    if schedule.layers.count() >= MAX_LAYERS:
        raise ValidationError({"position": f"A schedule has at most {MAX_LAYERS} layers."})
    values = _layer_values(
        {
            "name": name,
            "rotation": rotation,
            "shift_length": shift_length,
            "shift_unit": shift_unit,
            "start_date": start_date,
            "handoff_time": handoff_time,
            "restrictions": restrictions or {},
        }
    )
    users = _participants(schedule, participants)
    if position is None:
        top = schedule.layers.aggregate(top=Max("position"))["top"] or 0
        position = top + POSITION_STEP
    _check_position(schedule, position, layer=None)
    layer = Layer.objects.create(schedule=schedule, position=position, **values)
    _set_members(layer, users)
    audit.record(
        layer,
        actor=actor,
        action=AuditEntry.Action.CREATE,
        organization=schedule.organization,
        changes=audit.created_changes(_layer_snapshot(layer)),
        note=f"on schedule {schedule.name}",
    )
    return layer


def _check_position(schedule: Schedule, position: Any, *, layer: Layer | None) -> None:
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < 2**31:
        raise ValidationError({"position": "A whole number from 0."})
    taken = schedule.layers.filter(position=position)
    if layer is not None:
        taken = taken.exclude(pk=layer.pk)
    if taken.exists():
        raise ValidationError({"position": f"Another layer has position {position}."})


@transaction.atomic
def update_layer(layer: Layer, *, actor: User | None, **changes: Any) -> Layer:
    allowed = set(LAYER_FIELDS) | {"participants"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed."))
    before = _layer_snapshot(layer)
    merged = {field: changes.get(field, getattr(layer, field)) for field in LAYER_FIELDS}
    values = _layer_values(merged)
    if "position" in changes:
        _check_position(layer.schedule, changes["position"], layer=layer)
        layer.position = changes["position"]
    for field, value in values.items():
        setattr(layer, field, value)
    layer.save()
    if "participants" in changes:
        _set_members(layer, _participants(layer.schedule, changes["participants"]))
    changed = audit.diff(before, _layer_snapshot(layer))
    if changed:
        audit.record(
            layer,
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            organization=layer.schedule.organization,
            changes=changed,
        )
    return layer


@transaction.atomic
def delete_layer(layer: Layer, *, actor: User | None) -> None:
    before = _layer_snapshot(layer)
    audit.record(
        layer,
        actor=actor,
        action=AuditEntry.Action.DELETE,
        organization=layer.schedule.organization,
        changes={k: [v, None] for k, v in before.items() if v not in (None, "", [], {})},
        object_id=layer.pk,
    )
    layer.delete()


# --- overrides and swaps ---------------------------------------------------------------------


def _range(starts_at: Any, ends_at: Any) -> tuple[datetime, datetime]:
    start, end = _aware("starts_at", starts_at), _aware("ends_at", ends_at)
    if end <= start:
        raise ValidationError({"ends_at": "It must end after it starts."})
    if end - start > MAX_OVERRIDE:
        raise ValidationError({"ends_at": "An override lasts at most 366 days."})
    return start, end


def _save_override(override: Override, *, actor: User | None) -> Override:
    override.full_clean()
    override.save()
    audit.record(
        override,
        actor=actor,
        action=AuditEntry.Action.CREATE,
        organization=override.schedule.organization,
        changes=audit.created_changes(audit.snapshot(override, OVERRIDE_FIELDS)),
        note=f"on schedule {override.schedule.name}",
    )
    return override


@transaction.atomic
def add_override(
    schedule: Schedule,
    *,
    actor: User | None,
    user: User | int,
    starts_at: datetime,
    ends_at: datetime,
    note: str = "",
) -> Override:
    """``user`` is on call over the range, in place of whoever would be (or of nobody)."""
    start, end = _range(starts_at, ends_at)
    override = Override(
        schedule=schedule,
        kind=OverrideKind.OVERRIDE,
        user=_on_call_user(schedule, user, "user"),
        starts_at=start,
        ends_at=end,
        note=_text("note", note, limit=MAX_NOTE, required=False),
        created_by=actor,
    )
    return _save_override(override, actor=actor)


@transaction.atomic
def add_swap(
    schedule: Schedule,
    *,
    actor: User | None,
    user: User | int,
    replaces: User | int,
    starts_at: datetime,
    ends_at: datetime,
    note: str = "",
) -> Override:
    """``user`` takes ``replaces``'s on-call time within the range (only where they are on
    call; the rest of the range is left as it is)."""
    start, end = _range(starts_at, ends_at)
    taker = _on_call_user(schedule, user, "user")
    replaced_pk = replaces.pk if isinstance(replaces, User) else replaces
    replaced = User.objects.filter(pk=replaced_pk).first() if isinstance(replaced_pk, int) else None
    if replaced is None:
        raise ValidationError({"replaces": f"No user {replaces!r}."})
    if replaced.pk == taker.pk:
        raise ValidationError({"replaces": "A user cannot swap with themselves."})
    if not any(shift.user.pk == replaced.pk for shift in shifts(schedule, start, end)):
        raise ValidationError(
            {"replaces": f"{replaced.email} is not on call on this schedule in that time."}
        )
    override = Override(
        schedule=schedule,
        kind=OverrideKind.SWAP,
        user=taker,
        replaces=replaced,
        starts_at=start,
        ends_at=end,
        note=_text("note", note, limit=MAX_NOTE, required=False),
        created_by=actor,
    )
    return _save_override(override, actor=actor)


@transaction.atomic
def delete_override(override: Override, *, actor: User | None) -> None:
    audit.record_delete(
        override,
        actor=actor,
        organization=override.schedule.organization,
        fields=OVERRIDE_FIELDS,
        object_id=override.pk,
    )
    override.delete()


# --- questions -------------------------------------------------------------------------------


def _layers_of(schedules: Sequence[Schedule]) -> dict[int, list[Layer]]:
    found: dict[int, list[Layer]] = {schedule.pk: [] for schedule in schedules}
    layers = Layer.objects.filter(schedule__in=[s.pk for s in schedules]).prefetch_related(
        Prefetch("members", queryset=LayerMember.objects.order_by("position"))
    )
    for layer in layers.order_by("schedule", "position", "id"):
        found[layer.schedule_id].append(layer)
    return found


def _overrides_of(
    schedules: Sequence[Schedule], start: datetime, end: datetime
) -> dict[int, list[Override]]:
    found: dict[int, list[Override]] = {schedule.pk: [] for schedule in schedules}
    for schedule in schedules:
        found[schedule.pk] = list(
            Override.objects.filter(schedule=schedule)
            .select_related("replaces")
            .overlapping(start, end)
            .order_by("starts_at", "id")[:MAX_OVERRIDES_IN_RANGE]
        )
        # Later-made overrides win where they overlap earlier ones.
        found[schedule.pk].sort(key=lambda o: o.pk)
    return found


def shifts_of(
    schedules: Sequence[Schedule], start: datetime, end: datetime
) -> dict[int, list[ScheduleShift]]:
    """Each schedule's final shifts overlapping ``[start, end)`` (clipped to it), with a fixed
    number of queries whatever the number of schedules' layers."""
    try:
        engine.check_range(start, end)
    except engine.ScheduleError as exc:
        raise ValidationError({"end": str(exc)}) from exc
    layers = _layers_of(schedules)
    overrides = _overrides_of(schedules, start, end)
    layer_by_id = {layer.pk: layer for found in layers.values() for layer in found}
    override_by_id = {o.pk: o for found in overrides.values() for o in found}
    raw = {
        schedule.pk: engine.final_shifts(
            schedule.timezone,
            [layer.as_engine() for layer in layers[schedule.pk] if layer.members.all()],
            [override.as_engine() for override in overrides[schedule.pk]],
            start,
            end,
        )
        for schedule in schedules
    }
    user_ids = {shift.user for found in raw.values() for shift in found}
    users = User.objects.in_bulk(user_ids)
    return {
        schedule.pk: [
            ScheduleShift(
                schedule=schedule,
                start=shift.start,
                end=shift.end,
                user=users[shift.user],
                layer=layer_by_id.get(shift.layer) if shift.layer is not None else None,
                override=override_by_id.get(shift.override) if shift.override is not None else None,
            )
            for shift in raw[schedule.pk]
            # A deactivated user is on call for nobody (escalation moves on).
            if shift.user in users and users[shift.user].is_active
        ]
        for schedule in schedules
    }


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[ScheduleShift]:
    return shifts_of([schedule], start, end)[schedule.pk]


def current_shifts(
    schedules: Sequence[Schedule], at: datetime, *, horizon: timedelta = timedelta(days=14)
) -> dict[int, ScheduleShift | None]:
    """The shift in force at ``at`` for each schedule, its end found up to ``horizon`` ahead."""
    found = shifts_of(schedules, at, at + horizon)
    return {pk: next((s for s in items if s.start <= at), None) for pk, items in found.items()}


def on_call(schedule: Schedule, at: datetime | None = None) -> list[User]:
    """Who is on call for ``schedule`` at ``at`` (default now): nobody or one user."""
    moment = at or now()
    found = shifts(schedule, moment, moment + timedelta(minutes=1))
    return [shift.user for shift in found if shift.start <= moment]


def user_shifts(
    user: User, start: datetime, end: datetime, *, among: QuerySet[Schedule] | None = None
) -> list[ScheduleShift]:
    """``user``'s shifts on every schedule (of ``among``) that has them in a layer or an
    override."""
    candidates = (among if among is not None else Schedule.objects.all()).filter(
        Q(layers__members__user=user)
        | Q(overrides__user=user, overrides__starts_at__lt=end, overrides__ends_at__gt=start)
    )
    schedules = list(Schedule.objects.filter(pk__in=candidates.values("pk")).order_by("pk"))
    mine = [
        shift
        for found in shifts_of(schedules, start, end).values()
        for shift in found
        if shift.user.pk == user.pk
    ]
    return sorted(mine, key=lambda s: (s.start, s.schedule.pk))


# --- calendar feeds --------------------------------------------------------------------------


def _issue_feed(feed: CalendarFeed) -> str:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    feed.prefix = prefix
    feed.digest = CalendarFeed.hash_secret(secret)
    feed.save()
    return f"{prefix}_{secret}"


@transaction.atomic
def rotate_schedule_feed(schedule: Schedule, *, actor: User | None) -> str:
    """A new secret feed address for the schedule; the old one stops working. Shown once."""
    feed = CalendarFeed.objects.filter(schedule=schedule).first() or CalendarFeed(
        kind=FeedKind.SCHEDULE, schedule=schedule
    )
    token = _issue_feed(feed)
    audit.record(
        schedule,
        actor=actor,
        action=AuditEntry.Action.SECURITY,
        organization=schedule.organization,
        note=f"calendar feed address of schedule {schedule.name!r} issued",
    )
    return token


@transaction.atomic
def rotate_user_feed(user: User, *, actor: User | None) -> str:
    """A new secret address for ``user``'s own on-call calendar; the old one stops working."""
    if user.role not in STAFF_ROLES or not user.is_active:
        raise ValidationError({"user": "Only active provider staff have on-call calendars."})
    feed = CalendarFeed.objects.filter(user=user).first() or CalendarFeed(
        kind=FeedKind.USER, user=user
    )
    token = _issue_feed(feed)
    audit.record(
        user,
        actor=actor,
        action=AuditEntry.Action.SECURITY,
        organization=None,
        note=f"on-call calendar feed address of {user.email} issued",
    )
    return token


def feed_for_token(token: str) -> CalendarFeed | None:
    """The feed whose secret address is ``token``, or None (also for a deactivated owner)."""
    prefix, _, secret = token.partition("_")
    if not prefix or not secret:
        return None
    feed = CalendarFeed.objects.select_related("schedule", "user").filter(prefix=prefix).first()
    if feed is None or not secrets.compare_digest(feed.digest, CalendarFeed.hash_secret(secret)):
        return None
    if feed.user is not None and (not feed.user.is_active or feed.user.role not in STAFF_ROLES):
        return None
    return feed
