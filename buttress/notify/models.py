"""Notifications: how each person is reached (contact methods and rules), which desk events
they follow (subscriptions), what was sent to whom (the notification log), and outgoing
webhooks with their delivery log.

``send_due_at`` on a notification and a webhook delivery is the scheduler's timer: the due
time of the next attempt (first, delayed or retry), cleared when the row is finished.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from buttress.lib.timeutil import now
from buttress.tenancy.models import OrgScopedQuerySet


class MethodKind(models.TextChoices):
    EMAIL = "email", "Email"
    APPRISE = "apprise", "Apprise URL (Slack, Teams, Telegram, ntfy, Pushover, SMS, webhooks...)"


class ContactMethod(models.Model):
    """One way to reach a user. An Apprise URL carries credentials (tokens, webhook keys): it
    is stored encrypted (``target_sealed``) and shown back only as ``target_hint``."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=16, choices=MethodKind.choices)
    label = models.CharField(max_length=120)
    # An email address in clear; an Apprise URL encrypted (see buttress.notify.crypto).
    target_sealed = models.TextField()
    target_hint = models.CharField(max_length=120)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["user", "label", "id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_kind_display()}) of user #{self.user_id}"


class Urgency(models.TextChoices):
    ALL = "all", "Every notification"
    URGENT = "urgent", "P1 (urgent) only"


class NotificationRule(models.Model):
    """Notify ``user`` through ``method`` ``delay_minutes`` after the event. Quiet hours (in
    the user's time zone) hold a notification until they end, except an urgent (P1) one."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE, related_name="rules")
    delay_minutes = models.PositiveIntegerField(default=0)
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.ALL)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["user", "delay_minutes", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quiet_start__isnull=True, quiet_end__isnull=True)
                | models.Q(quiet_start__isnull=False, quiet_end__isnull=False),
                name="rule_quiet_hours_both_or_none",
            )
        ]

    def __str__(self) -> str:
        return f"rule #{self.pk}: method #{self.method_id} after {self.delay_minutes} min"


class DeskEvent(models.TextChoices):
    NEW_TICKET = "new_ticket", "New ticket"
    ASSIGNED = "assigned", "Assigned to me or my team"
    CUSTOMER_REPLIED = "customer_replied", "Customer replied"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACHED = "sla_breached", "SLA breached"
    RESOLVED = "resolved", "Ticket resolved"
    REOPENED = "reopened", "Ticket reopened"
    ACKNOWLEDGED = "acknowledged", "Ticket acknowledged"


class Scope(models.TextChoices):
    MINE = "mine", "Tickets assigned to me or my teams"
    ALL = "all", "Every ticket I can see"


class Subscription(models.Model):
    """A user (or every member of a team) follows one desk event. A team's subscription covers
    the team's tickets; a user's covers their own and their teams' tickets, or with scope
    ``all`` every ticket they can see."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notify_subscriptions",
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notify_subscriptions",
    )
    event = models.CharField(max_length=24, choices=DeskEvent.choices)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.MINE)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["event", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=True, team__isnull=False)
                | models.Q(user__isnull=False, team__isnull=True),
                name="subscription_user_xor_team",
            ),
            models.UniqueConstraint(
                fields=["user", "event"],
                condition=models.Q(user__isnull=False),
                name="subscription_user_event_unique",
            ),
            models.UniqueConstraint(
                fields=["team", "event"],
                condition=models.Q(team__isnull=False),
                name="subscription_team_event_unique",
            ),
        ]
        indexes = [models.Index(fields=["event"], name="subscription_event_idx")]

    def __str__(self) -> str:
        who = f"user #{self.user_id}" if self.user_id else f"team #{self.team_id}"
        return f"{who} follows {self.event}"


class RequesterEvent(models.TextChoices):
    """What a requester (a contact, with or without an account) may be mailed about their own
    tickets."""

    RECEIVED = "received", "We have your request (the acknowledgement)"
    AGENT_REPLIED = "agent_replied", "Replies and updates from support"
    WAITING_ON_YOU = "waiting_on_you", "Support waits for your answer"
    STATUS_CHANGED = "status_changed", "Other changes of status (in progress, reopened, closed...)"
    RESOLVED = "resolved", "Your request is resolved (with the satisfaction survey)"


# What a requester who never chose gets: everything but the routine status changes.
DEFAULT_REQUESTER_EVENTS = frozenset(
    {
        RequesterEvent.RECEIVED,
        RequesterEvent.AGENT_REPLIED,
        RequesterEvent.WAITING_ON_YOU,
        RequesterEvent.RESOLVED,
    }
)


class RequesterPreferenceQuerySet(OrgScopedQuerySet["RequesterPreference"]):
    def events_for(self, contact_id: int) -> frozenset[str]:
        """The events the contact is mailed about: their choice, else the defaults."""
        chosen = self.filter(contact_id=contact_id).values_list("events", flat=True).first()
        if chosen is None:
            return frozenset(str(e) for e in DEFAULT_REQUESTER_EVENTS)
        return frozenset(str(e) for e in chosen if e in RequesterEvent.values)

    def wants(self, contact_id: int, event: str) -> bool:
        return event in self.events_for(contact_id)


class RequesterPreference(models.Model):
    """The ticket mail a contact has chosen to get (no row: the defaults)."""

    contact = models.OneToOneField(
        "tenancy.Contact", on_delete=models.CASCADE, related_name="notify_preference"
    )
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    events = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=now)

    objects = RequesterPreferenceQuerySet.as_manager()

    def __str__(self) -> str:
        return f"mail preferences of contact #{self.contact_id}"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


PENDING_STATUSES = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)


class NotificationQuerySet(OrgScopedQuerySet["Notification"]):
    def pending(self) -> NotificationQuerySet:
        return self.filter(status__in=PENDING_STATUSES)


class Notification(models.Model):
    """One message to one person through one channel, and how its delivery went."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    # The ticket's organisation; null for a message about no ticket (a test message).
    organization = models.ForeignKey(
        "tenancy.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ticket = models.ForeignKey(
        "desk.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The timeline entry it tells of, so that a repeated fan-out sends nothing twice.
    ticket_event = models.ForeignKey(
        "desk.TicketEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.ForeignKey(
        ContactMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=MethodKind.choices)
    # Where it went, as it may be shown: the address, or the Apprise URL's hint.
    destination = models.CharField(max_length=254)
    event = models.CharField(max_length=24, blank=True)
    urgent = models.BooleanField(default=False)
    subject = models.CharField(max_length=250)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    # When the first attempt is meant to happen (after the rule's delay and quiet hours).
    scheduled_for = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_due_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["send_due_at"], name="notification_due_idx"),
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_idx"),
            models.Index(fields=["ticket", "status"], name="notification_ticket_idx"),
        ]

    def __str__(self) -> str:
        return f"notification #{self.pk} to user #{self.user_id} by {self.channel}"


class WebhookEndpointQuerySet(OrgScopedQuerySet["WebhookEndpoint"]):
    pass


class WebhookEndpoint(models.Model):
    """Ticket events POSTed as signed JSON to a URL. ``organization`` null: provider-wide,
    every organisation's events (managed by provider admins only)."""

    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    # The signing secret, encrypted: it must be read back to sign, unlike a hashed token.
    secret_sealed = models.TextField()
    secret_prefix = models.CharField(max_length=16)
    is_active = models.BooleanField(default=True)
    # Private, loopback and link-local targets; only provider staff may allow them.
    allow_private = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"webhook {self.name}"


class WebhookDeliveryQuerySet(OrgScopedQuerySet["WebhookDelivery"]):
    pass


class WebhookDelivery(models.Model):
    """One event POSTed (or to be POSTed) to one endpoint, with each attempt's outcome."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The event's organisation (a provider-wide endpoint receives several organisations').
    organization = models.ForeignKey(
        "tenancy.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ticket_event = models.ForeignKey(
        "desk.TicketEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_due_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["send_due_at"], name="webhook_delivery_due_idx"),
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_delivery_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} delivery #{self.pk} to endpoint #{self.endpoint_id}"
