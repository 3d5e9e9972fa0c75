"""Escalation policies and the escalations they drive on incident tickets.

A policy is an ordered list of steps: each step pages its targets (users, every member of a
team, whoever is on call on a schedule) and then waits ``wait_minutes`` before the next; after
the last step the whole list runs again ``repeat`` more times. An :class:`Escalation` is one
run of a policy on one ticket; its ``due_at`` is a scheduler timer (the next step, or the end
of an acknowledgement), and every page it sends is a :class:`Page` row written in the same
transaction as the step that sent it (with the user's notifications), unique per (escalation,
cycle, round, step, user): a step can be neither lost nor done twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from buttress.tenancy.models import OrgScopedQuerySet

MAX_STEPS = 20
MAX_REPEAT = 9
MAX_WAIT_MINUTES = 24 * 60
MAX_ACK_TIMEOUT_MINUTES = 7 * 24 * 60


class EscalationPolicyQuerySet(OrgScopedQuerySet["EscalationPolicy"]):
    pass


class EscalationPolicy(models.Model):
    """Who is paged, in which order, how often. ``organization`` None: shared by all."""

    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="escalation_policies",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    repeat = models.PositiveSmallIntegerField(
        default=0, help_text="How many more times the steps run after the last one."
    )
    ack_timeout = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Minutes after which an acknowledgement lapses and paging starts again.",
    )
    is_default = models.BooleanField(
        default=False,
        help_text="Escalates the organisation's new incidents from alerts and monitoring.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EscalationPolicyQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    wait_minutes = models.PositiveIntegerField(
        default=0, help_text="Minutes to wait after this step before the next one."
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    teams = models.ManyToManyField("accounts.Team", blank=True, related_name="+")
    # Whoever is on call on the schedule when the step runs.
    schedules = models.ManyToManyField("oncall.Schedule", blank=True, related_name="+")

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_step_unique")
        ]

    def __str__(self) -> str:
        return f"step {self.position + 1} of {self.policy_id}"


class EscalationState(models.TextChoices):
    ACTIVE = "active", "Paging"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Ended: ticket resolved"
    EXHAUSTED = "exhausted", "Ended: every step ran"
    CANCELLED = "cancelled", "Cancelled"


RUNNING_STATES = (EscalationState.ACTIVE, EscalationState.ACKNOWLEDGED)


class EscalationQuerySet(OrgScopedQuerySet["Escalation"]):
    def running(self) -> EscalationQuerySet:
        return self.filter(state__in=RUNNING_STATES)


class Escalation(models.Model):
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="escalations"
    )
    ticket = models.ForeignKey("desk.Ticket", on_delete=models.CASCADE, related_name="escalations")
    policy = models.ForeignKey(
        EscalationPolicy, on_delete=models.PROTECT, related_name="escalations"
    )
    state = models.CharField(
        max_length=16, choices=EscalationState.choices, default=EscalationState.ACTIVE
    )
    # Where the run stands: ``cycle`` counts restarts after a lapsed acknowledgement, ``round``
    # the repeats of the step list, ``step`` the position of the next step to run.
    cycle = models.PositiveSmallIntegerField(default=0)
    round = models.PositiveSmallIntegerField(default=0)
    step = models.PositiveSmallIntegerField(default=0)
    steps_run = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = EscalationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=models.Q(state__in=RUNNING_STATES),
                name="escalation_one_running_per_ticket",
            )
        ]

    def __str__(self) -> str:
        return f"escalation of ticket {self.ticket_id} ({self.state})"

    @property
    def is_running(self) -> bool:
        return self.state in RUNNING_STATES


class Page(models.Model):
    """One user paged by one step of one escalation; written with the step, so once."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="pages")
    cycle = models.PositiveSmallIntegerField()
    round = models.PositiveSmallIntegerField()
    position = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    # What the user's contact rules made of the page (one per method), with delivery status.
    notifications = models.ManyToManyField("notify.Notification", blank=True, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["escalation", "cycle", "round", "position", "user"],
                name="escalation_page_once",
            )
        ]

    def __str__(self) -> str:
        return f"page of user {self.user_id} for escalation {self.escalation_id}"
