"""On-call schedules: layers of rotating participants, overrides and swaps, in one time zone.

A schedule belongs to one organisation or, with no organisation, to the provider (a team's
schedule that covers several customers). What the rows mean is the engine's business
(:mod:`buttress.oncall.engine`); :meth:`Layer.as_engine` and :meth:`Override.as_engine`
translate.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import models

from buttress.oncall import engine
from buttress.tenancy.models import OrgScopedQuerySet

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class ScheduleQuerySet(OrgScopedQuerySet["Schedule"]):
    def shared(self) -> ScheduleQuerySet:
        return self.filter(organization__isnull=True)


class Schedule(models.Model):
    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="oncall_schedules",
        help_text="Empty: the provider's own schedule, shared by every organisation.",
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="oncall_schedules",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "name", "id"], name="oncall_sched_org_idx")]

    def __str__(self) -> str:
        return self.name


class Rotation(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    CUSTOM = "custom", "Custom length"


class ShiftUnit(models.TextChoices):
    HOURS = "hours", "Hours"
    DAYS = "days", "Days"


class Layer(models.Model):
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=120)
    # Higher positions win where they have someone on call.
    position = models.PositiveIntegerField()
    rotation = models.CharField(max_length=8, choices=Rotation.choices, default=Rotation.WEEKLY)
    shift_length = models.PositiveIntegerField(
        default=1, help_text="For a custom rotation: how many hours or days a shift lasts."
    )
    shift_unit = models.CharField(max_length=8, choices=ShiftUnit.choices, default=ShiftUnit.DAYS)
    start_date = models.DateField(help_text="The first shift's day, in the schedule's zone.")
    handoff_time = models.TimeField(default=time(9), help_text="Local time of each handoff.")
    # {"0": [["09:00", "17:00"]], ...} (0 = Monday): on call only inside these windows.
    restrictions = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["schedule", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "position"], name="oncall_layer_position"),
            models.CheckConstraint(
                condition=models.Q(shift_length__gte=1), name="oncall_layer_length_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def length(self) -> timedelta:
        if self.rotation == Rotation.DAILY:
            return timedelta(days=1)
        if self.rotation == Rotation.WEEKLY:
            return timedelta(days=7)
        if self.shift_unit == ShiftUnit.HOURS:
            return timedelta(hours=self.shift_length)
        return timedelta(days=self.shift_length)

    @property
    def restriction_lines(self) -> list[str]:
        """The restrictions as "Mon 09:00-17:00" lines (empty: always on call)."""
        return [
            f"{WEEKDAYS[int(day)]} {start}-{end}"
            for day, windows in sorted(self.restrictions.items())
            for start, end in windows
        ]

    def participant_ids(self) -> list[int]:
        """In rotation order (uses a prefetched ``members`` when there is one)."""
        return [m.user_id for m in sorted(self.members.all(), key=lambda m: m.position)]

    def as_engine(self) -> engine.Layer:
        return engine.Layer(
            key=self.pk,
            start=datetime.combine(self.start_date, self.handoff_time),
            length=self.length,
            participants=tuple(self.participant_ids()),
            restrictions=parse_restrictions(self.restrictions),
        )


class LayerMember(models.Model):
    """One turn in a layer's rotation; a user may take several turns."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_turns"
    )
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["layer", "position"]
        constraints = [
            models.UniqueConstraint(fields=["layer", "position"], name="oncall_member_position")
        ]

    def __str__(self) -> str:
        return f"{self.layer} #{self.position}: {self.user}"


class OverrideKind(models.TextChoices):
    OVERRIDE = "override", "Override"
    SWAP = "swap", "Shift swap"


class OverrideQuerySet(models.QuerySet["Override"]):
    def overlapping(self, start: datetime, end: datetime) -> OverrideQuerySet:
        return self.filter(starts_at__lt=end, ends_at__gt=start)


class Override(models.Model):
    """``user`` is on call over ``[starts_at, ends_at)``; a swap only where ``replaces`` was."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    kind = models.CharField(max_length=8, choices=OverrideKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="A swap: the user whose shift is taken.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OverrideQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["schedule", "ends_at", "starts_at"], name="oncall_override_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="oncall_override_order"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="swap", replaces__isnull=False)
                    | models.Q(kind="override", replaces__isnull=True)
                ),
                name="oncall_override_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.user} {self.starts_at:%Y-%m-%d %H:%M}"

    def as_engine(self) -> engine.Override:
        return engine.Override(
            key=self.pk,
            start=self.starts_at,
            end=self.ends_at,
            user=self.user_id,
            replaces=self.replaces_id,
        )


class FeedKind(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    USER = "user", "Person"


class CalendarFeed(models.Model):
    """A secret iCalendar URL: a schedule's shifts, or one person's across schedules.

    Only a SHA-256 of the secret is kept; rotating replaces the row's secret.
    """

    kind = models.CharField(max_length=8, choices=FeedKind.choices)
    schedule = models.OneToOneField(
        Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="feed"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="oncall_feed",
    )
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="schedule", schedule__isnull=False, user__isnull=True)
                    | models.Q(kind="user", schedule__isnull=True, user__isnull=False)
                ),
                name="oncall_feed_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} feed {self.prefix}…"

    @staticmethod
    def hash_secret(secret: str) -> str:
        # 256 random bits: a fast hash is enough, there is nothing to guess.
        return hashlib.sha256(secret.encode()).hexdigest()


def parse_restrictions(value: object) -> engine.Windows:
    """``{"0": [["09:00", "17:00"]], ...}`` (0 = Monday; an end of ``24:00`` or ``00:00`` is
    midnight) as engine windows; raises ``ValueError`` with a message fit for the field."""
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict):
        raise ValueError("give an object of weekday (0 = Monday to 6 = Sunday) -> windows")
    parsed: engine.Windows = {}
    for key, windows in value.items():
        if str(key) not in {str(day) for day in range(7)}:
            raise ValueError(f"weekday {key!r} is not 0 (Monday) to 6 (Sunday)")
        day = int(key)
        if not isinstance(windows, list) or len(windows) > 24:
            raise ValueError(f"weekday {day}: give a list of at most 24 [start, end] windows")
        found = []
        for window in windows:
            if not isinstance(window, list | tuple) or len(window) != 2:
                raise ValueError(f"weekday {day}: a window is [start, end], got {window!r}")
            begin, finish = _clock(window[0]), _clock(window[1], end=True)
            if finish != time(0) and finish <= begin:
                raise ValueError(
                    f"weekday {day}: window {window[0]}-{window[1]} ends before it starts"
                )
            found.append((begin, finish))
        found.sort()
        for (_, end_a), (start_b, _) in itertools.pairwise(found):
            if end_a == time(0) or start_b < end_a:
                raise ValueError(f"weekday {day}: windows overlap")
        if found:
            parsed[day] = found
    return parsed


def format_restrictions(parsed: engine.Windows) -> dict[str, list[list[str]]]:
    return {
        str(day): [
            [begin.strftime("%H:%M"), "24:00" if finish == time(0) else finish.strftime("%H:%M")]
            for begin, finish in windows
        ]
        for day, windows in sorted(parsed.items())
        if windows
    }


def _clock(text: object, *, end: bool = False) -> time:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError(f"{text!r} is not a time written as HH:MM")
    if end and text in ("24:00", "00:00"):
        return time(0)
    try:
        return time(int(text[:2]), int(text[3:]))
    except ValueError:
        raise ValueError(f"{text!r} is not a time written as HH:MM") from None
