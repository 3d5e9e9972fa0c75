from __future__ import annotations

from django.db import models


class SchedulerHeartbeat(models.Model):
    """One row per running scheduler process; /readyz and `buttress check` read the freshest."""

    name = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)
    loops = models.PositiveBigIntegerField(default=0)
    claimed = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.name


class PeriodicJob(models.Model):
    """A housekeeping job run every ``interval_seconds``; its timer is ``next_due_at``.

    ``job`` names the function to run (see ``buttress.scheduler.housekeeping.JOBS``); ``name``
    tells rows apart, so one function may be scheduled more than once.
    """

    name = models.CharField(max_length=100, unique=True)
    job = models.CharField(max_length=100, default="")
    interval_seconds = models.PositiveIntegerField()
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True)
    last_error = models.TextField(blank=True)
    runs = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
