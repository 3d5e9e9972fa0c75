"""Stored SLA configuration: business calendars, policies and the rules that choose a policy.

The JSON columns hold the normalised forms that :mod:`buttress.sla.services` writes; the
``parse_*`` functions turn them (or client input) into engine values and raise ``ValueError``
with a message fit for the field it came from.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from django.db import models

from buttress.desk.models import Priority, TicketType
from buttress.lib.timeutil import now
from buttress.sla import clockwork
from buttress.sla.calendar import BusinessCalendar
from buttress.sla.holiday_sources import holidays_for
from buttress.tenancy.models import OrgScopedQuerySet

CLOCKS = clockwork.CLOCKS
PRIORITIES = tuple(str(p) for p in Priority.values)
MIDNIGHT = "00:00"


class WarningAction(models.TextChoices):
    NOTIFY = "notify", "Notify"
    REASSIGN = "reassign", "Reassign"
    RAISE_PRIORITY = "raise_priority", "Raise priority"


def parse_clock_time(text: Any, *, end: bool = False) -> time:
    """``"HH:MM"`` as a wall time; as a window's end, ``"24:00"`` means midnight."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError(f"{text!r} is not a time written as HH:MM")
    if end and text == "24:00":
        return time(0)
    try:
        return time(int(text[:2]), int(text[3:]))
    except ValueError:
        raise ValueError(f"{text!r} is not a time written as HH:MM") from None


def parse_weekly(weekly: Any) -> dict[int, list[tuple[time, time]]]:
    """``{"0": [["09:00", "17:00"], ...], ...}`` (0 = Monday) as engine windows."""
    if not isinstance(weekly, dict):
        raise ValueError("give an object of weekday (0 = Monday to 6 = Sunday) -> windows")
    parsed: dict[int, list[tuple[time, time]]] = {}
    for key, windows in weekly.items():
        if str(key) not in {str(day) for day in range(7)}:
            raise ValueError(f"weekday {key!r} is not 0 (Monday) to 6 (Sunday)")
        day = int(key)
        if not isinstance(windows, list):
            raise ValueError(f"weekday {day}: give a list of [start, end] windows")
        day_windows: list[tuple[time, time]] = []
        for window in windows:
            if not isinstance(window, list | tuple) or len(window) != 2:
                raise ValueError(f"weekday {day}: a window is [start, end], got {window!r}")
            start = parse_clock_time(window[0])
            finish = parse_clock_time(window[1], end=True)
            if finish != time(0) and finish <= start:
                raise ValueError(
                    f"weekday {day}: window {window[0]}-{window[1]} ends before it starts"
                )
            day_windows.append((start, finish))
        day_windows.sort()
        for (_, end_a), (start_b, _) in itertools.pairwise(day_windows):
            if end_a == time(0) or start_b < end_a:
                raise ValueError(f"weekday {day}: windows overlap")
        parsed[day] = day_windows
    return parsed


def format_weekly(parsed: dict[int, list[tuple[time, time]]]) -> dict[str, list[list[str]]]:
    return {
        str(day): [[start.strftime("%H:%M"), end.strftime("%H:%M")] for start, end in windows]
        for day, windows in sorted(parsed.items())
        if windows
    }


def parse_holidays(values: Any) -> list[date]:
    if not isinstance(values, list):
        raise ValueError("give a list of dates (YYYY-MM-DD)")
    found: set[date] = set()
    for value in values:
        try:
            found.add(date.fromisoformat(value))
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a date written as YYYY-MM-DD") from None
    return sorted(found)


def parse_instant(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment


def parse_closures(values: Any) -> list[tuple[datetime, datetime]]:
    if not isinstance(values, list):
        raise ValueError("give a list of [start, end] pairs")
    parsed: list[tuple[datetime, datetime]] = []
    for pair in values:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"a closure is [start, end], got {pair!r}")
        start, end = parse_instant(pair[0]), parse_instant(pair[1])
        if end <= start:
            raise ValueError(f"closure {pair[0]} - {pair[1]} must end after it starts")
        parsed.append((start, end))
    return sorted(parsed)


class CalendarQuerySet(models.QuerySet["Calendar"]):
    def shared(self) -> CalendarQuerySet:
        return self.filter(organization__isnull=True)


class Calendar(models.Model):
    """Business hours in an IANA zone; without an organisation it is the provider's, shared."""

    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_calendars",
    )
    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64)
    weekly = models.JSONField(default=dict, help_text='{"0": [["09:00", "17:00"]]}, 0 = Monday')
    holidays = models.JSONField(default=list, blank=True)
    holiday_country = models.CharField(max_length=8, blank=True)
    holiday_subdivision = models.CharField(max_length=16, blank=True)
    closures = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = CalendarQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def engine(self, years: Iterable[int]) -> BusinessCalendar:
        """The calendar as engine, with the holiday source's dates for ``years`` added.

        Cached on the instance per set of years; a changed row needs a fresh instance.
        """
        wanted = frozenset(years)
        cache: dict[frozenset[int], BusinessCalendar] = self.__dict__.setdefault(
            "_engine_cache", {}
        )
        if wanted not in cache:
            days = set(parse_holidays(self.holidays))
            if self.holiday_country:
                days |= holidays_for(self.holiday_country, self.holiday_subdivision or None, wanted)
            cache[wanted] = BusinessCalendar(
                self.timezone,
                parse_weekly(self.weekly),
                days,
                parse_closures(self.closures),
            )
        return cache[wanted]


def engine_years(start: datetime, end: datetime | None = None) -> range:
    """Years whose public holidays an answer about ``[start, end]`` may need; without ``end``
    (an ``add``) the engine's ten-year search bound."""
    last = end.year if end is not None else start.year + 10
    # Kept inside the engine's years 2 to 9997, which refuses instants outside them anyway.
    return range(max(start.year - 1, 2), min(last + 2, 9998))


def default_paused_clocks() -> list[str]:
    return [clockwork.NEXT_RESPONSE, clockwork.RESOLUTION]


class SlaPolicy(models.Model):
    """Targets per priority on a calendar, what pauses them and the warnings before breach.

    ``targets``: ``{"P1": {"first_response": 30, "next_response": 60, "resolution": 240}, ...}``
    in business minutes. ``warnings``: ``[{"percent": 75, "action": "notify"}, {"minutes_before":
    15, "action": "reassign", "clock": "resolution"}]``; a step without ``clock`` applies to all.
    """

    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_policies",
    )
    name = models.CharField(max_length=120)
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="policies")
    targets = models.JSONField(default=dict)
    pausing_statuses = models.JSONField(default=list, blank=True)
    # Which clocks the pausing statuses (and maintenance) pause.
    paused_clocks = models.JSONField(default=default_paused_clocks, blank=True)
    pause_on_maintenance = models.BooleanField(default=True)
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name

    def target(self, priority: str, clock: str) -> int:
        """Business minutes allowed for ``clock`` at ``priority``."""
        return int(self.targets[priority][clock])


class TicketLike(Protocol):
    organization_id: int
    type: str
    category: str
    priority: str


class PolicyRule(models.Model):
    """One line of the provider's ordered rule list; empty conditions match anything."""

    position = models.PositiveIntegerField(unique=True)
    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_rules",
    )
    ticket_type = models.CharField(max_length=16, choices=TicketType.choices, blank=True)
    category = models.CharField(max_length=120, blank=True)
    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="rules")

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        conditions = [
            f"{label}={value}"
            for label, value in (
                ("organization", self.organization_id),
                ("type", self.ticket_type),
                ("category", self.category),
                ("priority", self.priority),
            )
            if value
        ]
        return f"#{self.position} {' '.join(conditions) or 'default'} -> {self.policy_id}"

    @property
    def is_default(self) -> bool:
        return not (self.organization_id or self.ticket_type or self.category or self.priority)

    def matches(self, ticket: TicketLike) -> bool:
        return (
            (self.organization_id is None or self.organization_id == ticket.organization_id)
            and (not self.ticket_type or self.ticket_type == ticket.type)
            and (not self.category or self.category.casefold() == ticket.category.casefold())
            and (not self.priority or self.priority == ticket.priority)
        )


def first_match(rules: Sequence[PolicyRule], ticket: TicketLike) -> SlaPolicy | None:
    """The policy of the first rule, in position order, that matches ``ticket``."""
    for rule in sorted(rules, key=lambda r: r.position):
        if rule.matches(ticket):
            return rule.policy
    return None


def select_policy(ticket: TicketLike) -> SlaPolicy | None:
    """The policy that applies to ``ticket`` (one query); None without a matching rule."""
    rules = PolicyRule.objects.select_related("policy__calendar").filter(
        models.Q(organization__isnull=True) | models.Q(organization_id=ticket.organization_id)
    )
    return first_match(list(rules), ticket)


class ClockState(models.TextChoices):
    RUNNING = clockwork.RUNNING, "Running"
    PAUSED = clockwork.PAUSED, "Paused"
    MET = clockwork.MET, "Met"


class ClockKind(models.TextChoices):
    FIRST_RESPONSE = clockwork.FIRST_RESPONSE, "First response"
    NEXT_RESPONSE = clockwork.NEXT_RESPONSE, "Next response"
    RESOLUTION = clockwork.RESOLUTION, "Resolution"


class SlaClockQuerySet(OrgScopedQuerySet["SlaClock"]):
    def current(self) -> SlaClockQuerySet:
        return self.filter(is_current=True)

    def unmet(self) -> SlaClockQuerySet:
        return self.exclude(state=ClockState.MET)


class SlaClock(models.Model):
    """One clock of one ticket (one row per next-response cycle; the newest is current).

    Written only by :mod:`buttress.sla.clocks`, which drives :mod:`buttress.sla.clockwork`.
    ``due_at`` is the scheduler's timer: the next warning or the breach, whichever is first.
    ``breach_at`` is the projected breach of a running, not yet breached clock.
    """

    # No index of their own: the report index starts with organization, the unique constraint
    # with ticket (and every index is rewritten by each claim of ``due_at``).
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    ticket = models.ForeignKey(
        "desk.Ticket", on_delete=models.CASCADE, related_name="sla_clocks", db_index=False
    )
    kind = models.CharField(max_length=16, choices=ClockKind.choices)
    cycle = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks"
    )
    calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks"
    )
    target = models.DurationField()
    state = models.CharField(max_length=8, choices=ClockState.choices, default=ClockState.RUNNING)
    elapsed = models.DurationField(default=timedelta(0))
    running_since = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    breached_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    fired = models.JSONField(default=list, blank=True)
    pause_reasons = models.JSONField(default=list, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    breach_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=now)

    objects = SlaClockQuerySet.as_manager()

    class Meta:
        ordering = ["ticket", "kind", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "kind", "cycle"], name="sla_clock_unique")
        ]
        indexes = [
            models.Index(fields=["due_at"], name="sla_clock_due_idx"),
            models.Index(fields=["organization", "kind", "met_at"], name="sla_clock_report_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.cycle} of ticket #{self.ticket_id}: {self.state}"

    @property
    def is_breached(self) -> bool:
        return self.breached_at is not None

    def to_clock(self) -> clockwork.Clock:
        return clockwork.Clock(
            kind=self.kind,
            cycle=self.cycle,
            target=self.target,
            started_at=self.started_at,
            state=self.state,
            elapsed=self.elapsed,
            running_since=self.running_since,
            breached_at=self.breached_at,
            met_at=self.met_at,
            fired=list(self.fired),
            pause_reasons=list(self.pause_reasons),
            policy_id=self.policy_id,
            calendar_id=self.calendar_id,
        )

    def take(self, clock: clockwork.Clock) -> None:
        """Copy the machine's view of this clock onto the row (not saved)."""
        self.target = clock.target
        self.state = clock.state
        self.elapsed = clock.elapsed
        self.running_since = clock.running_since
        self.started_at = clock.started_at
        self.breached_at = clock.breached_at
        self.met_at = clock.met_at
        self.fired = list(clock.fired)
        self.pause_reasons = list(clock.pause_reasons)
        self.policy_id = clock.policy_id
        self.calendar_id = clock.calendar_id


class SlaActionQuerySet(OrgScopedQuerySet["SlaAction"]):
    pass


class SlaAction(models.Model):
    """What a fired warning step asks for (notify, reassign, raise priority): an outbox row,
    carried out once by the scheduler's ``sla.action`` timer, with its outcome kept."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    ticket = models.ForeignKey("desk.Ticket", on_delete=models.CASCADE, related_name="+")
    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="actions")
    step = models.CharField(max_length=40)
    action = models.CharField(max_length=16, choices=WarningAction.choices)
    detail = models.JSONField(default=dict, blank=True)
    fired_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=500, blank=True)

    objects = SlaActionQuerySet.as_manager()

    class Meta:
        ordering = ["fired_at", "id"]
        indexes = [models.Index(fields=["due_at"], name="sla_action_due_idx")]

    def __str__(self) -> str:
        return f"{self.action} for {self.step} on ticket #{self.ticket_id}"
