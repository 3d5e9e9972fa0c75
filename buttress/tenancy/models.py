from __future__ import annotations

import zoneinfo
from typing import Any, Self

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower


def validate_timezone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name.")


class OrgScopedQuerySet[M: models.Model](models.QuerySet[M]):
    """Every customer-owned model's queryset starts here: ``Model.objects.for_org(org)``."""

    def for_org(self, org: Any) -> Self:
        return self.filter(organization=org)

    def for_orgs(self, orgs: Any) -> Self:
        return self.filter(organization__in=orgs)


class SiteQuerySet(OrgScopedQuerySet["Site"]):
    pass


class ContactQuerySet(OrgScopedQuerySet["Contact"]):
    pass


class OrganizationQuerySet(models.QuerySet["Organization"]):
    def active(self) -> OrganizationQuerySet:
        return self.filter(is_active=True)


class Organization(models.Model):
    """A customer of the provider; every customer-owned row points at one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    is_active = models.BooleanField(default=True)
    email_domains = models.JSONField(
        default=list,
        blank=True,
        help_text="Mail domains whose senders belong to this organisation.",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="organization_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="site_name_per_org_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person at a customer organisation (a requester, an approver, a site contact)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="contacts"
    )
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=64, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["organization", "email"], name="contact_org_email_idx"),
            # Mail intake finds the sender's contact by address in any organisation.
            models.Index(Lower("email"), name="contact_email_ci_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=~models.Q(email=""),
                name="contact_email_per_org_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name
