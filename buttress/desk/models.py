"""Tickets, their replies, time entries and the one timeline every change is written to."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from buttress.lib.timeutil import now
from buttress.tenancy.models import OrgScopedQuerySet

REFERENCE_PREFIX = "T-"
# The first number handed out; numbers below it look like typos in a subject line.
FIRST_NUMBER = 10001


class TicketType(models.TextChoices):
    INCIDENT = "incident", "Incident"
    SERVICE_REQUEST = "service_request", "Service request"
    PROBLEM = "problem", "Problem"


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on customer"
    WAITING_ON_THIRD_PARTY = "waiting_on_third_party", "Waiting on third party"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


_WORKING = (
    Status.OPEN,
    Status.IN_PROGRESS,
    Status.WAITING_ON_CUSTOMER,
    Status.WAITING_ON_THIRD_PARTY,
)

# from -> the statuses it may move to. A resolved or closed ticket only comes back by a reopen
# (to open), so "resolved" is a real end state that the resolution clock can trust.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({*_WORKING, Status.RESOLVED, Status.CLOSED}),
    **{
        status: frozenset({*_WORKING, Status.RESOLVED, Status.CLOSED} - {status})
        for status in _WORKING
    },
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}
DONE_STATUSES = frozenset({Status.RESOLVED, Status.CLOSED})
DEFAULT_PAUSING_STATUSES = frozenset({Status.WAITING_ON_CUSTOMER, Status.WAITING_ON_THIRD_PARTY})


def pausing_statuses() -> frozenset[str]:
    """Statuses in which SLA clocks stop (setting ``DESK_PAUSING_STATUSES``)."""
    configured = getattr(settings, "DESK_PAUSING_STATUSES", None)
    if configured is None:
        return DEFAULT_PAUSING_STATUSES
    return frozenset(str(s) for s in configured)


# Room for the 25 MB file people expect mail and upload forms to take.
DEFAULT_ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024


def attachment_max_bytes() -> int:
    """The largest file kept on a ticket (setting ``DESK_ATTACHMENT_MAX_BYTES``)."""
    return int(getattr(settings, "DESK_ATTACHMENT_MAX_BYTES", DEFAULT_ATTACHMENT_MAX_BYTES))


class SlaState(models.TextChoices):
    NONE = "", "No SLA"
    RUNNING = "running", "On track"
    WARNING = "warning", "At risk"
    BREACHED = "breached", "Breached"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"


class Level(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Priority(models.TextChoices):
    P1 = "P1", "P1 - critical"
    P2 = "P2", "P2 - high"
    P3 = "P3", "P3 - medium"
    P4 = "P4", "P4 - low"


# impact x urgency -> priority, used for every pair without a PriorityRule row.
DEFAULT_MATRIX: dict[tuple[str, str], str] = {
    (Level.HIGH, Level.HIGH): Priority.P1,
    (Level.HIGH, Level.MEDIUM): Priority.P2,
    (Level.MEDIUM, Level.HIGH): Priority.P2,
    (Level.HIGH, Level.LOW): Priority.P3,
    (Level.MEDIUM, Level.MEDIUM): Priority.P3,
    (Level.LOW, Level.HIGH): Priority.P3,
    (Level.MEDIUM, Level.LOW): Priority.P4,
    (Level.LOW, Level.MEDIUM): Priority.P4,
    (Level.LOW, Level.LOW): Priority.P4,
}


class Source(models.TextChoices):
    PORTAL = "portal", "Portal"
    EMAIL = "email", "Email"
    API = "api", "API"
    PHONE = "phone", "Phone"
    MONITORING = "monitoring", "Monitoring"
    ALERT = "alert", "Alert"


class PriorityRule(models.Model):
    """An installation's override of one cell of :data:`DEFAULT_MATRIX`."""

    impact = models.CharField(max_length=8, choices=Level.choices)
    urgency = models.CharField(max_length=8, choices=Level.choices)
    priority = models.CharField(max_length=2, choices=Priority.choices)

    class Meta:
        ordering = ["impact", "urgency"]
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="priority_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.impact} x {self.urgency} -> {self.priority}"


class TicketCounter(models.Model):
    """One row holding the last ticket number issued; bumped inside the creating transaction."""

    last = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"last ticket number {self.last}"


class TicketQuerySet(OrgScopedQuerySet["Ticket"]):
    def open(self) -> TicketQuerySet:
        return self.exclude(status__in=DONE_STATUSES)

    def tagged(self, tag: str) -> TicketQuerySet:
        """Tickets carrying the whole tag ``tag`` (lower-case, as tags are stored)."""
        # Tags are stored as a JSON list of lower-case words; the quotes make it a whole tag.
        return self.filter(tags__icontains=f'"{tag}"')


class Ticket(models.Model):
    number = models.PositiveBigIntegerField(unique=True)
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="tickets"
    )
    requester = models.ForeignKey(
        "tenancy.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        help_text="Empty for tickets raised by monitoring or alerts.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    subject = models.CharField(max_length=250)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=16, choices=TicketType.choices, default=TicketType.INCIDENT)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.NEW)
    impact = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    urgency = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    category = models.CharField(max_length=120, blank=True)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    assets = models.ManyToManyField("assets.Asset", blank=True, related_name="tickets")
    tags = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watched_tickets"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    related = models.ManyToManyField("self", blank=True, symmetrical=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    # Problem management: a problem explains incidents.
    incidents = models.ManyToManyField(
        "self", blank=True, symmetrical=False, related_name="problems"
    )
    root_cause = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    known_error = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveIntegerField(default=0)
    # The SLA summary queues filter and sort by, kept by buttress.sla.clocks: the state of the
    # ticket's clocks and the earliest breach (past) or projected breach (future) among them.
    sla_state = models.CharField(max_length=8, choices=SlaState.choices, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            # Queues page by (-updated_at, -id), narrowed by one of these first.
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated_idx"),
            models.Index(
                fields=["organization", "status", "-updated_at", "-id"], name="ticket_org_idx"
            ),
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status_idx"),
            models.Index(fields=["priority", "status", "-updated_at"], name="ticket_priority_idx"),
            models.Index(fields=["assignee", "status", "-updated_at"], name="ticket_assignee_idx"),
            models.Index(fields=["team", "status", "-updated_at"], name="ticket_team_idx"),
            models.Index(fields=["requester", "-updated_at"], name="ticket_requester_idx"),
            models.Index(fields=["sla_due_at", "id"], name="ticket_sla_due_idx"),
            models.Index(fields=["organization", "sla_due_at", "id"], name="ticket_org_sla_idx"),
            # The default queue (every status but resolved and closed), alone or per
            # organisation: a small share of a large desk, in the queue's own order.
            models.Index(
                fields=["-updated_at", "-id"],
                name="ticket_open_updated_idx",
                condition=~models.Q(status__in=sorted(DONE_STATUSES)),
            ),
            models.Index(
                fields=["organization", "-updated_at", "-id"],
                name="ticket_org_open_idx",
                condition=~models.Q(status__in=sorted(DONE_STATUSES)),
            ),
            models.Index(
                fields=["sla_due_at", "id"],
                name="ticket_open_sla_idx",
                condition=~models.Q(status__in=sorted(DONE_STATUSES)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def reference(self) -> str:
        return f"{REFERENCE_PREFIX}{self.number}"

    @property
    def is_paused(self) -> bool:
        return self.status in pausing_statuses()


class Reply(models.Model):
    """A public reply or, with ``is_internal``, a note only provider staff can read."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_contact = models.ForeignKey(
        "tenancy.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    is_internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="reply_ticket_idx")]

    def __str__(self) -> str:
        kind = "note" if self.is_internal else "reply"
        return f"{kind} #{self.pk} on ticket #{self.ticket_id}"


class Activity(models.TextChoices):
    REMOTE = "remote", "Remote support"
    ONSITE = "onsite", "On site"
    TRAVEL = "travel", "Travel"
    RESEARCH = "research", "Research"
    ADMIN = "admin", "Administration"


class TimeEntry(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="time_entries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    minutes = models.PositiveIntegerField()
    activity = models.CharField(max_length=16, choices=Activity.choices, default=Activity.REMOTE)
    billable = models.BooleanField(default=True)
    note = models.CharField(max_length=500, blank=True)
    date = models.DateField()
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["date", "id"]
        indexes = [models.Index(fields=["ticket", "date", "id"], name="time_ticket_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(minutes__gte=1, minutes__lte=1440), name="time_entry_minutes"
            )
        ]

    def __str__(self) -> str:
        return f"{self.minutes} min on ticket #{self.ticket_id}"


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    FIELD_CHANGED = "field_changed", "Field changed"
    ASSIGNED = "assigned", "Assigned"
    STATUS_CHANGED = "status_changed", "Status changed"
    REOPENED = "reopened", "Reopened"
    REPLIED = "replied", "Replied"
    NOTE_ADDED = "note_added", "Internal note"
    TIME_LOGGED = "time_logged", "Time logged"
    ASSET_LINKED = "asset_linked", "Asset linked"
    ASSET_UNLINKED = "asset_unlinked", "Asset unlinked"
    PARENT_SET = "parent_set", "Parent set"
    RELATED = "related", "Related"
    INCIDENT_LINKED = "incident_linked", "Incident linked"
    MERGED_INTO = "merged_into", "Merged into"
    MERGED_FROM = "merged_from", "Merged from"
    SLA_STARTED = "sla_started", "SLA clock started"
    SLA_PAUSED = "sla_paused", "SLA clock paused"
    SLA_RESUMED = "sla_resumed", "SLA clock resumed"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACHED = "sla_breached", "SLA breached"
    SLA_MET = "sla_met", "SLA target met"
    SLA_RETARGETED = "sla_retargeted", "SLA target changed"
    SLA_REPLAYED = "sla_replayed", "SLA clocks rebuilt"
    SURVEY_ANSWERED = "survey_answered", "Satisfaction rated"
    ATTACHED = "attached", "File attached"
    ESCALATION = "escalation", "Escalation"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class TicketEvent(models.Model):
    """One entry of a ticket's timeline. ``is_internal`` entries are hidden from customers."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=now)
    detail = models.JSONField(default=dict, blank=True)
    is_internal = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at", "id"], name="event_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on ticket #{self.ticket_id} at {self.at:%Y-%m-%d %H:%M}"


class SearchDocumentQuerySet(OrgScopedQuerySet["TicketSearchDocument"]):
    pass


class TicketSearchDocument(models.Model):
    """The searchable text of one ticket, rewritten by the desk services whenever the ticket's
    subject or description changes or a reply is added (see :mod:`buttress.desk.search`).

    Public text and internal notes are kept apart so a customer's search never matches a note.
    On PostgreSQL the two vectors (GIN-indexed) are filled from these columns; on SQLite an
    FTS5 table kept in step by triggers on this table does the matching.
    """

    ticket = models.OneToOneField(
        Ticket, primary_key=True, on_delete=models.CASCADE, related_name="search_document"
    )
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    subject = models.TextField(blank=True)
    description = models.TextField(blank=True)
    public_text = models.TextField(blank=True, help_text="Public replies.")
    internal_text = models.TextField(blank=True, help_text="Internal notes.")
    # PostgreSQL only (NULL on SQLite): subject, description and replies ...
    public_vector = SearchVectorField(null=True, blank=True)
    # ... and the same plus internal notes, for provider staff.
    staff_vector = SearchVectorField(null=True, blank=True)
    indexed_at = models.DateTimeField(default=now)

    objects = SearchDocumentQuerySet.as_manager()

    def __str__(self) -> str:
        return f"search document of ticket #{self.ticket_id}"


class SavedViewQuerySet(models.QuerySet["SavedView"]):
    pass


class SavedView(models.Model):
    """A queue's filters and sort kept under a name; a shared one is offered to all staff."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    query = models.JSONField(default=dict, blank=True)
    is_shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class MacroQuerySet(models.QuerySet["Macro"]):
    def usable_for(self, organization_id: int) -> MacroQuerySet:
        return self.filter(is_active=True).filter(
            models.Q(organization__isnull=True) | models.Q(organization_id=organization_id)
        )


class Macro(models.Model):
    """A canned reply that can also set fields: applied to a ticket in one step.

    ``changes`` (all optional): ``status``, ``impact``, ``urgency``, ``category``, ``team``
    (an id, or null to clear), ``assignee`` (an id, ``"me"`` for whoever applies it, or null to
    clear), ``add_tags`` (a list). ``body`` may use ``{ticket}``, ``{subject}``,
    ``{requester}`` and ``{agent}``.
    """

    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="macros",
        help_text="Empty: usable on every organisation's tickets.",
    )
    name = models.CharField(max_length=120)
    body = models.TextField(blank=True)
    internal = models.BooleanField(default=False, help_text="Add the body as an internal note.")
    changes = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = MacroQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SurveyResponse(models.Model):
    """The requester's rating of a resolved ticket (1 to 5, with a comment): one per resolution;
    answering again before the link expires replaces it."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="survey_responses")
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # Which resolution of the ticket this rates (the ticket's reopen count when it was sent).
    round = models.PositiveIntegerField(default=0)
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    contact = models.ForeignKey(
        "tenancy.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "round"], name="survey_once_per_round"),
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="survey_rating_1_5"
            ),
        ]
        indexes = [models.Index(fields=["organization", "answered_at"], name="survey_org_idx")]

    def __str__(self) -> str:
        return f"{self.rating}/5 for ticket #{self.ticket_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    """Stored under a random name: the original name is kept in the row, never on disk."""
    return f"attachments/{now():%Y/%m}/{secrets.token_hex(16)}"


class Attachment(models.Model):
    """A file on a ticket, usually with the reply or note it came with; a file of a note is
    internal like the note."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    reply = models.ForeignKey(
        Reply, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    is_internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="attachment_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.filename} on ticket #{self.ticket_id}"


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received, not processed yet"
    NEW_TICKET = "new_ticket", "Opened a ticket"
    REPLY = "reply", "Added to a ticket"
    BOUNCE = "bounce", "Bounce"
    ALERT = "alert", "Alert delivery"
    QUARANTINED = "quarantined", "Quarantined"
    DISCARDED = "discarded", "Discarded"


class InboundSource(models.TextChoices):
    CLI = "cli", "Command line"
    IMAP = "imap", "IMAP mailbox"
    SMTP = "smtp", "SMTP listener"


class MailboxSecurity(models.TextChoices):
    SSL = "ssl", "TLS (IMAPS)"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "None (loopback only)"


class Mailbox(models.Model):
    """An IMAP mailbox the scheduler polls for mail into the desk.

    Each message is stored before the server is told anything; only then is it moved to
    ``done_folder`` (or flagged seen when that is empty). ``last_uid`` under ``uid_validity``
    is how far the folder has been read, so nothing is fetched twice while the server keeps
    its UIDs, and a changed UIDVALIDITY starts again from the beginning (duplicates are caught
    by their Message-ID). The password is stored encrypted and never shown back.
    """

    name = models.CharField(max_length=120, unique=True)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(
        max_length=8, choices=MailboxSecurity.choices, default=MailboxSecurity.SSL
    )
    username = models.CharField(max_length=254)
    password_encrypted = models.TextField(blank=True)
    folder = models.CharField(max_length=200, default="INBOX")
    done_folder = models.CharField(
        max_length=200, blank=True, help_text="Move processed mail here; empty: flag it seen."
    )
    is_enabled = models.BooleanField(default=True)
    poll_interval_seconds = models.PositiveIntegerField(default=60)
    uid_validity = models.PositiveBigIntegerField(null=True, blank=True)
    last_uid = models.PositiveBigIntegerField(default=0)
    poll_due_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["poll_due_at"], name="mailbox_poll_due_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.username}@{self.host})"


class InboundMailQuerySet(models.QuerySet["InboundMail"]):
    def quarantined(self) -> InboundMailQuerySet:
        return self.filter(status=InboundStatus.QUARANTINED)


class InboundMail(models.Model):
    """One message received by the desk, stored as received before anything else happens.

    What became of it is kept with why (``decision``), so a message delivered twice is handled
    once, quarantined mail can be looked at and retried, and threading can be explained.
    ``process_due_at`` is the processing timer: set when stored, cleared once processed.
    """

    message_id = models.CharField(max_length=255)
    # What makes two deliveries one message (lib.mailparse.content_digest); with message_id,
    # the key a duplicate delivery is found by.
    digest = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField(default=now)
    source = models.CharField(
        max_length=8, choices=InboundSource.choices, default=InboundSource.CLI
    )
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    recipients = models.JSONField(
        default=list, blank=True, help_text="Envelope recipients (SMTP listener)."
    )
    size = models.PositiveIntegerField(default=0)
    sender = models.CharField(max_length=254)
    subject = models.CharField(max_length=250, blank=True)
    status = models.CharField(
        max_length=12, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    reason = models.CharField(max_length=300, blank=True)
    decision = models.TextField(blank=True, help_text="Why the message went where it did.")
    organization = models.ForeignKey(
        "tenancy.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_mail"
    )
    raw = models.BinaryField(help_text="The message as received.")
    attempts = models.PositiveIntegerField(default=0)
    process_due_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = InboundMailQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="inbound_status_idx"),
            models.Index(fields=["sender", "received_at"], name="inbound_sender_idx"),
            models.Index(fields=["process_due_at"], name="inbound_due_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["message_id", "digest"], name="inbound_message_unique")
        ]

    def __str__(self) -> str:
        return f"{self.message_id} from {self.sender}: {self.status}"


class MailThreadQuerySet(models.QuerySet["MailThread"]):
    def remember(self, ticket: Ticket, message_id: str, *, outbound: bool) -> None:
        """Record ``message_id`` as part of the ticket's conversation (once)."""
        if message_id:
            self.bulk_create(
                [
                    MailThread(
                        message_id=message_id[:255],
                        ticket=ticket,
                        organization_id=ticket.organization_id,
                        outbound=outbound,
                    )
                ],
                ignore_conflicts=True,
            )


class MailThread(models.Model):
    """A Message-ID that belongs to a ticket's conversation: each mail the desk sends about the
    ticket and each message it took in for it. Replies are threaded by these first."""

    message_id = models.CharField(max_length=255, unique=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="mail_threads")
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    outbound = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    objects = MailThreadQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.message_id} -> ticket #{self.ticket_id}"
