"""Monitors, the pings heartbeat monitors receive, and every change of a monitor's status.

A monitor either checks a target itself (``config`` holds the probe's settings, validated against
the probe engine's spec when saved: see :mod:`buttress.monitoring.specs`) or waits for a job to
report in (``kind = heartbeat``: the schedule columns say when it must).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models

from buttress.monitoring.schedule import Schedule
from buttress.tenancy.models import OrgScopedQuerySet


class MonitorKind(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP port"
    ICMP = "icmp", "ICMP ping"
    DNS = "dns", "DNS"
    TLS = "tls", "TLS certificate"
    SMTP = "smtp", "SMTP"
    IMAP = "imap", "IMAP"
    HEARTBEAT = "heartbeat", "Heartbeat"


class MonitorStatus(models.TextChoices):
    UP = "up", "Up"
    DOWN = "down", "Down"
    LATE = "late", "Late"
    FLAPPING = "flapping", "Flapping"
    UNREACHABLE = "unreachable", "Unreachable"
    UNKNOWN = "unknown", "Unknown"
    PAUSED = "paused", "Paused"


class ScheduleKind(models.TextChoices):
    SIMPLE = "simple", "Period and grace"
    CRON = "cron", "Cron expression"


class PingKind(models.TextChoices):
    SUCCESS = "success", "Success"
    START = "start", "Start"
    FAIL = "fail", "Failure"
    LOG = "log", "Log"
    EXIT = "exit", "Exit status"


class MonitorQuerySet(OrgScopedQuerySet["Monitor"]):
    def with_last_result(self) -> MonitorQuerySet:
        """Each monitor's newest result as ``last_result_at``, ``last_result_status``,
        ``last_latency_ms`` and ``last_message`` (None without one), along the (monitor,
        time) index: one query for a whole page."""
        newest = CheckResult.objects.filter(monitor=models.OuterRef("pk")).order_by("-at", "-id")
        return self.annotate(
            last_result_at=models.Subquery(newest.values("at")[:1]),
            last_result_status=models.Subquery(newest.values("status")[:1]),
            last_latency_ms=models.Subquery(newest.values("latency_ms")[:1]),
            last_message=models.Subquery(newest.values("message")[:1]),
        )

    def heartbeats(self) -> MonitorQuerySet:
        return self.filter(kind=MonitorKind.HEARTBEAT)

    def checked(self) -> MonitorQuerySet:
        """Monitors a runner checks: not heartbeats, not paused."""
        return self.exclude(kind=MonitorKind.HEARTBEAT).filter(is_paused=False)


class Monitor(models.Model):
    # Indexed by monitor_org_name_idx, which leads with it: every index here is written again
    # by each heartbeat ping's update (it moves the indexed heartbeat_due_at), so none is kept
    # twice.
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="monitors", db_index=False
    )
    asset = models.ForeignKey(
        "assets.Asset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="monitors",
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=MonitorKind.choices)
    config = models.JSONField(default=dict, blank=True)
    interval = models.PositiveIntegerField(default=60, help_text="Seconds between checks.")
    status = models.CharField(
        max_length=16, choices=MonitorStatus.choices, default=MonitorStatus.UNKNOWN
    )
    is_paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Heartbeat monitors: the job pings /ping/<uuid> or /ping/<ping key>/<slug>.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.CharField(max_length=100, blank=True)
    schedule_kind = models.CharField(
        max_length=8, choices=ScheduleKind.choices, default=ScheduleKind.SIMPLE
    )
    period = models.PositiveIntegerField(default=86400, help_text="Seconds between pings.")
    grace = models.PositiveIntegerField(default=3600, help_text="Seconds late before down.")
    schedule = models.CharField(max_length=100, blank=True, help_text="A 5-field cron expression.")
    tz = models.CharField(max_length=64, default="UTC")
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_start_at = models.DateTimeField(null=True, blank=True)
    last_start_rid = models.UUIDField(null=True, blank=True)
    n_pings = models.PositiveBigIntegerField(default=0)
    # The next instant the status may move (up -> late -> down) without a ping.
    heartbeat_due_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # Checked monitors: how results move the status (see buttress.monitoring.states).
    down_after = models.PositiveSmallIntegerField(
        default=2, help_text="Consecutive failures before the monitor is down."
    )
    up_after = models.PositiveSmallIntegerField(
        default=1, help_text="Consecutive successes before a down monitor is up again."
    )
    depends_on = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dependents",
        help_text="While this monitor is down, this one is unreachable rather than down.",
    )
    depends_on_asset = models.ForeignKey(
        "assets.Asset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="While every monitor of this asset is down, this one is unreachable.",
    )
    health = models.CharField(
        max_length=16,
        choices=[("up", "Up"), ("down", "Down"), ("unknown", "Unknown")],
        default="unknown",
        help_text="The judgement of the monitor's own results, before flapping and parents.",
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    recent_results = models.CharField(
        max_length=21, blank=True, help_text="The newest results, oldest first: u or d."
    )
    # Set by the services from the actor who last saved the config; with the organisation's
    # policy it decides whether the checks may reach private addresses.
    configured_by_staff = models.BooleanField(default=True)
    check_due_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # The runner holding the monitor, until lease_expires_at unless it renews the lease.
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = MonitorQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["organization", "name", "id"], name="monitor_org_name_idx"),
            # The list across organisations pages by (name, id): an index range, not a sort.
            models.Index(fields=["name", "id"], name="monitor_name_idx"),
            # A plain index: Django's db_index on a text column adds a second one for LIKE.
            models.Index(fields=["lease_owner"], name="monitor_lease_owner_idx"),
            models.Index(
                fields=["organization", "slug"],
                condition=~models.Q(slug=""),
                name="monitor_org_slug_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=MonitorKind.values), name="monitor_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=MonitorStatus.values), name="monitor_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_heartbeat(self) -> bool:
        return self.kind == MonitorKind.HEARTBEAT

    def heartbeat_schedule(self) -> Schedule:
        # Built once per set of values: building validates the cron expression and the zone.
        key = (self.schedule_kind, self.grace, self.period, self.schedule, self.tz)
        cached: tuple[tuple[object, ...], Schedule] | None = self.__dict__.get("_schedule")
        if cached is not None and cached[0] == key:
            return cached[1]
        schedule = Schedule(
            kind="cron" if self.schedule_kind == ScheduleKind.CRON else "simple",
            grace=timedelta(seconds=self.grace),
            period=timedelta(seconds=self.period),
            cron=self.schedule,
            tz=self.tz,
        )
        self.__dict__["_schedule"] = (key, schedule)
        return schedule

    def deadlines(self) -> tuple[datetime | None, datetime | None]:
        """(late from, down from) given the last ping and the running job, if any."""
        return self.heartbeat_schedule().deadlines(
            last_ping_at=self.last_ping_at, last_start_at=self.last_start_at
        )

    def status_at(self, at: datetime) -> str:
        """The status a heartbeat monitor has at ``at`` with no further ping.

        Down is kept until a success; paused monitors stay paused. A monitor that has had no
        success since it was created or resumed (unknown) goes down only when a started job
        overruns its grace.
        """
        current = MonitorStatus(self.status)
        if current in {MonitorStatus.DOWN, MonitorStatus.PAUSED} or not self.is_heartbeat:
            return current.value
        if current not in {MonitorStatus.UP, MonitorStatus.LATE}:
            running_down = self._running_down_at()
            if running_down is not None and at >= running_down:
                return MonitorStatus.DOWN.value
            return current.value
        late_at, down_at = self.deadlines()
        if down_at is not None and at >= down_at:
            return MonitorStatus.DOWN.value
        if late_at is not None and at >= late_at:
            return MonitorStatus.LATE.value
        return current.value

    def next_transition(self, status: str) -> datetime | None:
        """When a heartbeat monitor in ``status`` next changes without a ping; None: never."""
        if not self.is_heartbeat or self.is_paused:
            return None
        if status == MonitorStatus.UP:
            late_at, down_at = self.deadlines()
            candidates = [t for t in (late_at, down_at) if t is not None]
            return min(candidates) if candidates else None
        if status == MonitorStatus.LATE:
            return self.deadlines()[1]
        if status in {MonitorStatus.UNKNOWN, MonitorStatus.UNREACHABLE, MonitorStatus.FLAPPING}:
            return self._running_down_at()
        return None

    def _running_down_at(self) -> datetime | None:
        if self.last_start_at is None:
            return None
        return self.last_start_at + timedelta(seconds=self.grace)


class Ping(models.Model):
    """One request a heartbeat monitor received; the newest ``MONITORING_PINGS_KEPT`` are kept."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # Indexed by ping_monitor_n_unique (monitor, n).
    monitor = models.ForeignKey(
        Monitor, on_delete=models.CASCADE, related_name="pings", db_index=False
    )
    n = models.PositiveBigIntegerField(help_text="The monitor's ping counter.")
    at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=PingKind.choices)
    exit_status = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=10)
    user_agent = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0, help_text="Bytes received.")
    rid = models.UUIDField(null=True, blank=True)
    duration = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ["-n"]
        constraints = [
            models.UniqueConstraint(fields=["monitor", "n"], name="ping_monitor_n_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.monitor_id} #{self.n} {self.kind}"


class StateChange(models.Model):
    """A monitor's status moving from one value to another; kept as long as the monitor."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="state_changes")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=16, choices=MonitorStatus.choices)
    to_status = models.CharField(max_length=16, choices=MonitorStatus.choices)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["monitor", "at", "id"], name="statechange_monitor_at_idx")]

    def __str__(self) -> str:
        return f"{self.monitor_id}: {self.from_status} -> {self.to_status}"


class PingKey(models.Model):
    """An organisation's key for slug ping URLs, ``/ping/<key>/<slug>``.

    Only the key's SHA-256 is stored: whoever holds the key may report for, and with
    ``?create=1`` create, the organisation's heartbeat monitors.
    """

    organization = models.OneToOneField(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="ping_key"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell it.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.prefix}..."


class PrivateTargets(models.TextChoices):
    STAFF = "staff", "Only monitors set up by provider staff"
    ALLOWED = "allowed", "Allowed for every monitor"
    REFUSED = "refused", "Refused for every monitor"


class MonitoringSettings(models.Model):
    """An organisation's monitoring policy; an organisation without a row has the defaults."""

    organization = models.OneToOneField(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="monitoring_settings"
    )
    private_targets = models.CharField(
        max_length=8,
        choices=PrivateTargets.choices,
        default=PrivateTargets.STAFF,
        help_text="Whether checks may reach private, loopback and link-local addresses.",
    )
    resolve_incidents = models.BooleanField(
        null=True,
        blank=True,
        help_text="Whether a monitor's recovery resolves its incident; empty: the installation's "
        "default (MONITORING_RESOLVE_INCIDENTS).",
    )

    class Meta:
        verbose_name_plural = "monitoring settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(private_targets__in=PrivateTargets.values),
                name="monitoringsettings_private_targets_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"monitoring settings of {self.organization_id}"


def allows_private(policy: str, *, configured_by_staff: bool) -> bool:
    if policy == PrivateTargets.ALLOWED:
        return True
    if policy == PrivateTargets.REFUSED:
        return False
    return configured_by_staff


class ResultStatus(models.TextChoices):
    UP = "up", "Up"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"


class CheckResult(models.Model):
    """One check a runner made; kept for ``MONITORING_RESULTS_DAYS`` (see docs/monitoring.md)."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="results")
    at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=ResultStatus.choices)
    latency_ms = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["monitor", "at"], name="checkresult_monitor_at_idx"),
            models.Index(fields=["at"], name="checkresult_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.at:%Y-%m-%d %H:%M:%S} {self.status}"

    @property
    def ok(self) -> bool:
        return self.status == ResultStatus.UP


class MonitorIncident(models.Model):
    """The incident ticket a monitor going down opened; open until the ticket is done."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="incidents")
    ticket = models.ForeignKey("desk.Ticket", on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField()
    recovered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["monitor", "opened_at"], name="monitorincident_mon_idx")]

    def __str__(self) -> str:
        return f"{self.monitor_id} -> ticket {self.ticket_id}"


class Runner(models.Model):
    """A running ``buttress runner``, beating while it lives; how runners count each other."""

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    held = models.PositiveIntegerField(default=0, help_text="Monitors leased at the last beat.")
    checks = models.PositiveBigIntegerField(default=0, help_text="Checks run since start.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RollupLevel(models.TextChoices):
    MINUTE = "minute", "Minute"
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


class LatencyRollup(models.Model):
    """A monitor's results over one minute, hour or day (UTC), summed up.

    Written by :mod:`buttress.monitoring.rollups` from the raw results once the bucket is
    over; the percentiles are those of the bucket's own results (nearest rank), never
    estimated from finer buckets.
    """

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # The bucket constraint's index starts with the monitor: no index of its own.
    monitor = models.ForeignKey(
        Monitor, on_delete=models.CASCADE, related_name="rollups", db_index=False
    )
    level = models.CharField(max_length=6, choices=RollupLevel.choices)
    start = models.DateTimeField()
    count = models.PositiveIntegerField(help_text="Results in the bucket.")
    failures = models.PositiveIntegerField(help_text="Results that were down.")
    unknowns = models.PositiveIntegerField(default=0, help_text="Results that judged nothing.")
    p50_ms = models.FloatField(null=True, blank=True)
    p95_ms = models.FloatField(null=True, blank=True)
    max_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["monitor", "level", "start"]
        indexes = [models.Index(fields=["level", "start"], name="latencyrollup_level_start_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "level", "start"], name="latencyrollup_bucket_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(level__in=RollupLevel.values), name="latencyrollup_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.level} {self.start:%Y-%m-%d %H:%M}"


class Upkeep(models.Model):
    """A background job of the monitoring data, driven by the scheduler (timer
    ``monitoring.upkeep`` on ``due_at``): ``rollup`` sums results up, ``prune`` deletes what
    is past its retention.

    The rollup row also says how far each level is done: every result before ``minute_done``
    is in the minute buckets (and so on). ``sealed_until`` is where the running job has
    started reading; a result written later with an earlier time is late and is noted
    (:class:`LateResult`) so its buckets are computed again.
    """

    name = models.CharField(max_length=20, unique=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sealed_until = models.DateTimeField(null=True, blank=True)
    minute_done = models.DateTimeField(null=True, blank=True)
    hour_done = models.DateTimeField(null=True, blank=True)
    day_done = models.DateTimeField(null=True, blank=True)
    # The hour (day) bucket after the done mark is computed for the monitors up to this id: a
    # big bucket is computed over several runs, each within its time budget.
    hour_after = models.PositiveBigIntegerField(default=0)
    day_after = models.PositiveBigIntegerField(default=0)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LateResult(models.Model):
    """A result written after its minute was rolled up: its buckets are computed again."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.at:%Y-%m-%d %H:%M:%S}"
