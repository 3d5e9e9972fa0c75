"""Incident work on desk tickets of type incident: severity, the people in charge, status
updates, the postmortem with its action items, and the incident's own log of all of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from buttress.lib.timeutil import now
from buttress.tenancy.models import OrgScopedQuerySet


class Severity(models.TextChoices):
    SEV1 = "SEV1", "SEV1 - critical, widespread"
    SEV2 = "SEV2", "SEV2 - major"
    SEV3 = "SEV3", "SEV3 - minor"
    SEV4 = "SEV4", "SEV4 - low"


class RoleKind(models.TextChoices):
    COMMANDER = "commander", "Incident commander"
    COMMUNICATIONS = "communications", "Communications lead"
    SCRIBE = "scribe", "Scribe"
    OTHER = "other", "Other"


# Roles one person holds at a time: assigning someone else hands the role over.
SINGLE_HOLDER_ROLES = frozenset({RoleKind.COMMANDER, RoleKind.COMMUNICATIONS, RoleKind.SCRIBE})


class Phase(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class Visibility(models.TextChoices):
    INTERNAL = "internal", "Internal"
    CUSTOMER = "customer", "Customer-facing"


class IncidentQuerySet(OrgScopedQuerySet["Incident"]):
    pass


class Incident(models.Model):
    """The incident side of one incident ticket, made when work on it first begins."""

    ticket = models.OneToOneField("desk.Ticket", on_delete=models.CASCADE, related_name="incident")
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    severity = models.CharField(max_length=4, choices=Severity.choices, blank=True)
    severity_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "severity"], name="incident_org_sev_idx")]

    def __str__(self) -> str:
        return f"incident of ticket #{self.ticket_id} ({self.severity or 'no severity'})"


class RoleAssignment(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=16, choices=RoleKind.choices)
    title = models.CharField(max_length=80, blank=True, help_text="For other roles.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assigned_at = models.DateTimeField(default=now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["role", "assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "role"],
                condition=~models.Q(role="other"),
                name="incident_single_holder",
            ),
            models.UniqueConstraint(
                fields=["incident", "role", "title", "user"], name="incident_role_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} on incident #{self.incident_id}"

    @property
    def label(self) -> str:
        return self.title if self.role == RoleKind.OTHER and self.title else self.get_role_display()


class StatusUpdate(models.Model):
    """What is known and being done; a customer-facing one is shown in the portal and mailed
    to the requester."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    visibility = models.CharField(max_length=8, choices=Visibility.choices)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.INVESTIGATING)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["incident", "-created_at"], name="status_update_idx")]

    def __str__(self) -> str:
        return f"{self.visibility} update on incident #{self.incident_id}"

    @property
    def is_customer_facing(self) -> bool:
        return self.visibility == Visibility.CUSTOMER


class Postmortem(models.Model):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    summary = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    timeline_excerpt = models.TextField(blank=True)
    went_well = models.TextField(blank=True)
    went_badly = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"postmortem of incident #{self.incident_id}"


class ActionKind(models.TextChoices):
    TICKET = "ticket", "Ticket"
    PROBLEM = "problem", "Problem"


class ActionItem(models.Model):
    """Something to do after the incident; turned into a desk ticket or problem, linked back."""

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="action_items"
    )
    description = models.CharField(max_length=500)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_on = models.DateField(null=True, blank=True)
    kind = models.CharField(max_length=8, choices=ActionKind.choices, blank=True)
    ticket = models.ForeignKey(
        "desk.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The ticket or problem this became.",
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.description


class EventKind(models.TextChoices):
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    ROLE_ASSIGNED = "role_assigned", "Role assigned"
    ROLE_UNASSIGNED = "role_unassigned", "Role released"
    STATUS_UPDATE = "status_update", "Status update"
    POSTMORTEM_SAVED = "postmortem_saved", "Postmortem saved"
    ACTION_ADDED = "action_added", "Action item added"
    ACTION_CONVERTED = "action_converted", "Action item opened as a ticket"


class IncidentEvent(models.Model):
    """One entry of the incident's log, shown on the ticket's page beside its timeline.
    ``is_internal`` entries are for provider staff only."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=now)
    detail = models.JSONField(default=dict, blank=True)
    is_internal = models.BooleanField(default=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "at", "id"], name="incident_event_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on incident #{self.incident_id}"
