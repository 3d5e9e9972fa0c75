"""The service catalogue: what customers may ask for, each item with the form they fill in,
and what they answered (kept beside the ticket the answers opened)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from buttress.desk.models import Level, TicketType
from buttress.lib.timeutil import now
from buttress.tenancy.models import OrgScopedQuerySet


class FieldKind(models.TextChoices):
    TEXT = "text", "Text"
    TEXTAREA = "textarea", "Long text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"
    CHECKBOX = "checkbox", "Checkbox"
    EMAIL = "email", "Email address"


CHOICE_KINDS = frozenset({FieldKind.CHOICE, FieldKind.MULTI_CHOICE})


class CatalogueItemQuerySet(OrgScopedQuerySet["CatalogueItem"]):
    def offered_to(self, organization_id: int) -> CatalogueItemQuerySet:
        """Active items an organisation's users may request: its own and the shared ones."""
        return self.filter(is_active=True).filter(
            models.Q(organization__isnull=True) | models.Q(organization_id=organization_id)
        )


class CatalogueItem(models.Model):
    """One thing customers may request, with the ticket it opens and the form that asks for
    what the desk needs to know."""

    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="catalogue_items",
        help_text="Empty: offered to every organisation.",
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=120, blank=True)
    ticket_type = models.CharField(
        max_length=16, choices=TicketType.choices, default=TicketType.SERVICE_REQUEST
    )
    impact = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    urgency = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = CatalogueItemQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name", "id"]
        indexes = [
            models.Index(fields=["organization", "is_active", "position"], name="catalogue_org_idx")
        ]

    def __str__(self) -> str:
        return self.name


class CatalogueField(models.Model):
    """One question of an item's form; ``key`` names the answer in the stored answers."""

    item = models.ForeignKey(CatalogueItem, on_delete=models.CASCADE, related_name="fields")
    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=FieldKind.choices, default=FieldKind.TEXT)
    required = models.BooleanField(default=False)
    choices = models.JSONField(default=list, blank=True)
    help_text = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "key"], name="catalogue_field_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.key})"


class CatalogueRequestQuerySet(OrgScopedQuerySet["CatalogueRequest"]):
    pass


class CatalogueRequest(models.Model):
    """The answers a customer gave to an item's form, beside the ticket they opened.

    ``answers`` is a list of ``{"key", "label", "kind", "value"}`` in the form's order, with the
    labels as they were when the form was sent, so later edits to the item do not rewrite
    what was asked.
    """

    ticket = models.OneToOneField(
        "desk.Ticket", on_delete=models.CASCADE, related_name="catalogue_request"
    )
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    item = models.ForeignKey(
        CatalogueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    item_name = models.CharField(max_length=120)
    answers = models.JSONField(default=list, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    objects = CatalogueRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="catalogue_req_idx")]

    def __str__(self) -> str:
        return f"{self.item_name} on ticket #{self.ticket_id}"
