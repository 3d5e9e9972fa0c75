"""Alert integrations, the raw deliveries they receive, the alerts read from them, and the
groups that tie alerts to one incident ticket."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.db import models

from buttress.lib.timeutil import now
from buttress.tenancy.models import OrgScopedQuerySet

# The largest request body an integration accepts (PagerDuty's limit, used for every format).
MAX_BODY_BYTES = 512 * 1024
DEFAULT_RATE_LIMIT = 600
DEFAULT_GROUP_WINDOW_MINUTES = 60
KEY_PREFIX_LENGTH = 10
KEY_SECRET_LENGTH = 32
KEY_LENGTH = KEY_PREFIX_LENGTH + KEY_SECRET_LENGTH


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    PROMETHEUS = "prometheus", "Prometheus (direct)"
    GENERIC = "generic", "Generic JSON webhook"
    PAGERDUTY = "pagerduty", "PagerDuty Events v2"
    EMAIL = "email", "Email"
    # Built in, one per organisation: monitors going down (see alerts.services.sources).
    MONITORING = "monitoring", "buttress monitoring"


class IntegrationQuerySet(OrgScopedQuerySet["Integration"]):
    pass


class Integration(models.Model):
    """A sender of alerts for one organisation, identified by a secret key.

    The key is ``prefix + secret`` (42 lowercase letters and digits, so it fits in a URL path
    and in PagerDuty's ``routing_key``). Only ``key_prefix`` (to find the row) and the SHA-256
    of the whole key are stored; the key is shown when created or rotated, never again.
    """

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="alert_integrations"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=IntegrationKind.choices)
    is_enabled = models.BooleanField(default=True)
    key_prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, unique=True)
    key_digest = models.CharField(max_length=64)
    mapping = models.JSONField(
        default=dict, blank=True, help_text="generic: field name -> JMESPath expression."
    )
    group_by = models.JSONField(
        default=list,
        blank=True,
        help_text="Labels whose values form the group of an alert without a sender group key.",
    )
    group_window_minutes = models.PositiveIntegerField(default=DEFAULT_GROUP_WINDOW_MINUTES)
    rate_limit_per_minute = models.PositiveIntegerField(default=DEFAULT_RATE_LIMIT)
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Escalates its incidents unless a routing rule names another policy; "
        "empty: the organisation's default policy.",
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = IntegrationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "name"], name="integration_org_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(kind="monitoring"),
                name="alerts_one_monitoring_integration",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @staticmethod
    def hash_key(key: str) -> str:
        # A key carries ~165 random bits; there is nothing to brute-force, so a fast hash is
        # enough (as for API tokens) and costs each delivery microseconds, not milliseconds.
        return hashlib.sha256(key.encode()).hexdigest()


class RateWindow(models.Model):
    """Deliveries accepted for an integration in one minute: the flood limit's counter.

    A row per integration and minute, incremented with a conditional UPDATE, so every web
    process and host shares the count through the database.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "window_start"], name="alerts_rate_window_unique"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.count} deliveries for integration #{self.integration_id} at {self.window_start}"
        )


class DeliveryQuerySet(OrgScopedQuerySet["Delivery"]):
    def pending(self) -> DeliveryQuerySet:
        return self.filter(processed_at__isnull=True)


class Delivery(models.Model):
    """One accepted request, recorded before it is answered and processed afterwards.

    ``process_due_at`` is the scheduler's timer: set when the request is recorded, cleared
    once processed, so a processing task lost to a crash runs again when its lease ends.
    """

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="deliveries"
    )
    received_at = models.DateTimeField(default=now)
    content_type = models.CharField(max_length=120, blank=True)
    body = models.TextField(help_text="The request body as received (UTF-8 JSON).")
    # PagerDuty: the dedup_key generated for a trigger that had none, returned to the sender.
    generated_key = models.CharField(max_length=64, blank=True)
    process_due_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    alert_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    objects = DeliveryQuerySet.as_manager()

    # Not stored: set when the delivery is recorded, true when its integration is flooding
    # (past ``ALERTS_BUSY_DELIVERIES`` since the previous minute began); its processing then
    # queues behind others'.
    busy: bool = False

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["process_due_at"], name="delivery_due_idx"),
            models.Index(fields=["integration", "-received_at"], name="delivery_integration_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.pk} to integration #{self.integration_id}"


class RoutingRuleQuerySet(OrgScopedQuerySet["RoutingRule"]):
    def enabled(self) -> RoutingRuleQuerySet:
        return self.filter(is_enabled=True)


class RoutingRule(models.Model):
    """Where an integration's alerts go: label matchers and what a match sets.

    Rules are tried in ``position`` order; the first that matches decides, and when it has
    ``continue_matching`` the following matching rules fill what it left unset. Every field of
    the action is optional: what no rule sets comes from the integration.
    """

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="routing_rules"
    )
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=120)
    is_enabled = models.BooleanField(default=True)
    matchers = models.JSONField(default=list, blank=True)
    continue_matching = models.BooleanField(default=False)
    asset = models.ForeignKey(
        "assets.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.CharField(max_length=120, blank=True)
    impact = models.CharField(max_length=8, blank=True)
    urgency = models.CharField(max_length=8, blank=True)
    group_by = models.JSONField(default=list, blank=True)
    group_window_minutes = models.PositiveIntegerField(null=True, blank=True)
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = RoutingRuleQuerySet.as_manager()

    class Meta:
        ordering = ["integration", "position", "id"]
        indexes = [models.Index(fields=["integration", "position"], name="routing_rule_order_idx")]

    def __str__(self) -> str:
        return f"routing rule {self.name} of integration #{self.integration_id}"


class SilenceQuerySet(OrgScopedQuerySet["Silence"]):
    def active_at(self, at: datetime) -> SilenceQuerySet:
        return self.filter(starts_at__lte=at, ends_at__gt=at)


class Silence(models.Model):
    """Alerts of an organisation matching ``matchers`` between ``starts_at`` and ``ends_at``
    are recorded but open, join and trigger nothing. Expiring one sets ``ends_at`` to now."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    matchers = models.JSONField(default=list)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.TextField()
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["-ends_at", "-id"]
        indexes = [models.Index(fields=["organization", "ends_at"], name="silence_org_ends_idx")]

    def __str__(self) -> str:
        return f"silence #{self.pk} until {self.ends_at:%Y-%m-%d %H:%M}"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertGroupQuerySet(OrgScopedQuerySet["AlertGroup"]):
    def open(self) -> AlertGroupQuerySet:
        return self.filter(closed_at__isnull=True)


class AlertGroup(models.Model):
    """Alerts that belong to one incident: the sender's group key (Alertmanager's groupKey) or
    the integration's group labels within its window. Closed when its incident resolves."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    integration = models.ForeignKey(
        Integration, null=True, on_delete=models.SET_NULL, related_name="groups"
    )
    key = models.TextField()
    key_hash = models.CharField(max_length=64)
    ticket = models.ForeignKey("desk.Ticket", on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField(default=now)
    last_alert_at = models.DateTimeField(default=now)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = AlertGroupQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(
                fields=["integration", "key_hash", "closed_at"], name="alert_group_key_idx"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "key_hash"],
                condition=models.Q(closed_at__isnull=True),
                name="alerts_one_open_group_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"alert group {self.key[:60]} -> ticket #{self.ticket_id}"


class AlertQuerySet(OrgScopedQuerySet["Alert"]):
    def firing(self) -> AlertQuerySet:
        return self.filter(status=AlertStatus.FIRING)


class Alert(models.Model):
    """One alert occurrence, deduplicated by fingerprint (PagerDuty: dedup_key).

    While it fires there is one row per integration and fingerprint; every delivery that
    repeats it only counts (``times_seen``). Once resolved the row is history, and the same
    fingerprint firing again is a new occurrence and a new row.
    """

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    integration = models.ForeignKey(
        Integration, null=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    fingerprint = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=AlertStatus.choices, default=AlertStatus.FIRING
    )
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=1024, blank=True)
    severity = models.CharField(max_length=32, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    links = models.JSONField(
        default=dict, blank=True, help_text="runbook, dashboard, panel, silence, generator URLs."
    )
    details = models.JSONField(default=dict, blank=True)
    group = models.ForeignKey(
        AlertGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    incident = models.ForeignKey(
        "desk.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    first_delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    times_seen = models.PositiveIntegerField(default=1)
    # The sender's own group (Alertmanager's groupKey), kept for an alert that joins its
    # incident later, after a silence or maintenance window.
    group_key = models.TextField(blank=True)
    routing_rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asset = models.ForeignKey(
        "assets.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Suppressed: recorded but in no incident, because of a silence or a maintenance window.
    silence = models.ForeignKey(
        Silence, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    maintenance_window = models.ForeignKey(
        "maintenance.MaintenanceWindow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # When the suppression ends: the timer that looks at the alert again if it still fires.
    suppressed_until = models.DateTimeField(null=True, blank=True)
    suppression_due_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Alerts sent without endsAt resolve on their own unless re-sent before this (the timer).
    expires_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["integration", "fingerprint", "-created_at"], name="alert_fingerprint_idx"
            ),
            models.Index(fields=["incident", "-created_at", "-id"], name="alert_incident_idx"),
            models.Index(fields=["group", "status"], name="alert_group_idx"),
            models.Index(fields=["expires_due_at"], name="alert_expires_idx"),
            models.Index(fields=["suppression_due_at"], name="alert_suppression_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "integration", "fingerprint"],
                condition=models.Q(status="firing"),
                name="alerts_one_firing_per_fingerprint",
            )
        ]

    def __str__(self) -> str:
        return f"{self.status} alert {self.summary or self.fingerprint}"[:200]

    def web_links(self) -> list[tuple[str, str, bool]]:
        """(name, url, clickable) for each link, sorted by name: only http(s) URLs are links,
        so a sender cannot plant a ``javascript:`` URL on the incident page."""
        return [
            (name, url, url.lower().startswith(("http://", "https://")))
            for name, url in sorted(self.links.items())
            if isinstance(url, str)
        ]

    @property
    def is_suppressed(self) -> bool:
        return self.incident_id is None and (
            self.silence_id is not None or self.maintenance_window_id is not None
        )
