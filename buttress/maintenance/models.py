"""Maintenance windows: when an organisation's assets and monitors are being worked on.

A window is one-off or recurring (see :mod:`buttress.maintenance.occurrences` for how its
occurrences are computed). While one of its occurrences is on, alerts of the monitors it names
(and of its assets' monitors) are suppressed and SLA clocks of tickets on its assets pause,
each as its effect flags say.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models

from buttress.maintenance import occurrences as engine
from buttress.tenancy.models import OrgScopedQuerySet


class Effect(models.TextChoices):
    SUPPRESS_ALERTS = "suppress_alerts", "Suppress alerts and incidents"
    PAUSE_SLA = "pause_sla", "Pause SLA clocks"


class MaintenanceWindowQuerySet(OrgScopedQuerySet["MaintenanceWindow"]):
    def with_effect(self, effect: str) -> MaintenanceWindowQuerySet:
        if effect not in Effect.values:
            msg = f"unknown effect {effect!r}; one of {', '.join(Effect.values)}"
            raise ValueError(msg)
        return self.filter(**{effect: True})

    def may_overlap(self, start: datetime, end: datetime) -> MaintenanceWindowQuerySet:
        """Windows that can have an occurrence overlapping ``[start, end)`` (a cheap pre-filter
        on the first start and the last end; the occurrences decide)."""
        return self.filter(starts_at__lt=end).filter(
            models.Q(last_end_at__isnull=True) | models.Q(last_end_at__gt=start)
        )


class MaintenanceWindow(models.Model):
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    name = models.CharField(max_length=200)
    reason = models.TextField(blank=True)
    starts_at = models.DateTimeField(help_text="The first occurrence's start.")
    duration = models.DurationField(help_text="From 1 minute to 31 days.")
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="Occurrences repeat in this zone's local time."
    )
    rrule = models.CharField(
        max_length=engine.MAX_RULE_LENGTH,
        blank=True,
        help_text="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU;COUNT=10. Empty: once.",
    )
    assets = models.ManyToManyField("assets.Asset", blank=True, related_name="maintenance_windows")
    monitors = models.ManyToManyField(
        "monitoring.Monitor", blank=True, related_name="maintenance_windows"
    )
    suppress_alerts = models.BooleanField(default=True)
    pause_sla = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the last occurrence ends; null for a rule without end. Lets queries skip windows
    # that are over without expanding their rule.
    last_end_at = models.DateTimeField(null=True, blank=True)
    # The next start or end of an occurrence still to come; the scheduler's timer.
    edge_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Edges up to this instant have been handled (the claim moves edge_due_at, so the task
    # finds the edges it owes from here).
    edges_done_until = models.DateTimeField()

    objects = MaintenanceWindowQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["organization", "starts_at", "id"], name="mwindow_org_start_idx"),
            models.Index(fields=["starts_at", "id"], name="mwindow_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration__gte=engine.MIN_DURATION)
                & models.Q(duration__lte=engine.MAX_DURATION),
                name="mwindow_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_recurring(self) -> bool:
        return bool(self.rrule)

    def occurrences(self, start: datetime, end: datetime) -> list[engine.Interval]:
        return engine.occurrences(
            self.starts_at, self.duration, self.timezone, self.rrule, start, end
        )

    def is_on(self, at: datetime) -> bool:
        return bool(self.occurrences(at, at + timedelta(microseconds=1)))

    def next_edge(self, after: datetime) -> datetime | None:
        return engine.next_edge(self.starts_at, self.duration, self.timezone, self.rrule, after)


class CoverageChange(models.Model):
    """An edit changed which assets a window covers right now: their SLA clocks are brought up
    to date by the scheduler (an outbox row, written in the edit's transaction)."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    asset_ids = models.JSONField(default=list)
    at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"coverage change at {self.at.isoformat()}"
