"""The only place that changes organisations, sites and contacts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from buttress.audit import services as audit
from buttress.tenancy.models import Contact, Organization, Site

if TYPE_CHECKING:
    from buttress.accounts.models import User

ORG_FIELDS = ("name", "slug", "is_active", "email_domains", "notes")
SITE_FIELDS = ("name", "address", "timezone", "notes")
CONTACT_FIELDS = ("name", "email", "phone", "job_title", "site", "is_active")


# Slugs that would collide with the organisation pages' own paths (/orgs/new/).
RESERVED_SLUGS = frozenset({"new", "edit", "delete", "import", "export"})


def _check_slug(slug: str) -> None:
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"{slug!r} is reserved; choose another slug."})


def _validated[M: Organization | Site | Contact](obj: M, *, exclude: list[str] | None = None) -> M:
    obj.full_clean(exclude=exclude)
    return obj


def unique_slug(name: str, *, taken: set[str] | None = None) -> str:
    base = slugify(name)[:56] or "org"
    candidate, n = base, 1
    while (
        (taken and candidate in taken)
        or candidate in RESERVED_SLUGS
        or Organization.objects.filter(slug=candidate).exists()
    ):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _normalise_domains(domains: Any) -> list[str]:
    if domains in (None, ""):
        return []
    if not isinstance(domains, list | tuple):
        raise ValidationError({"email_domains": "Give a list of domain names."})
    cleaned = []
    for domain in domains:
        text = str(domain).strip().lower().lstrip("@")
        if not text or "." not in text or " " in text:
            raise ValidationError({"email_domains": f"{domain!r} is not a domain name."})
        cleaned.append(text)
    return sorted(set(cleaned))


@transaction.atomic
def create_organization(
    *,
    actor: User | None,
    name: str,
    slug: str = "",
    notes: str = "",
    email_domains: list[str] | None = None,
    is_active: bool = True,
) -> Organization:
    org = Organization(
        name=name.strip(),
        slug=slug.strip() or unique_slug(name),
        notes=notes,
        email_domains=_normalise_domains(email_domains),
        is_active=is_active,
    )
    _check_slug(org.slug)
    _validated(org)
    org.save()
    audit.record_create(org, actor=actor, organization=org, fields=ORG_FIELDS)
    return org


@transaction.atomic
def update_organization(org: Organization, *, actor: User | None, **changes: Any) -> Organization:
    before = audit.snapshot(org, ORG_FIELDS)
    for field, value in changes.items():
        if field not in ORG_FIELDS:
            raise ValidationError({field: "This field cannot be changed."})
        if field == "email_domains":
            value = _normalise_domains(value)
        setattr(org, field, value)
    _check_slug(org.slug)
    _validated(org)
    org.save()
    audit.record_update(org, actor=actor, organization=org, before=before, fields=ORG_FIELDS)
    return org


@transaction.atomic
def delete_organization(org: Organization, *, actor: User | None) -> None:
    pk = org.pk
    audit.record_delete(org, actor=actor, organization=None, fields=ORG_FIELDS, object_id=pk)
    org.delete()


@transaction.atomic
def create_site(
    organization: Organization,
    *,
    actor: User | None,
    name: str,
    address: str = "",
    timezone: str = "UTC",
    notes: str = "",
) -> Site:
    site = Site(
        organization=organization,
        name=name.strip(),
        address=address,
        timezone=timezone or "UTC",
        notes=notes,
    )
    _validated(site)
    site.save()
    audit.record_create(site, actor=actor, organization=organization, fields=SITE_FIELDS)
    return site


@transaction.atomic
def update_site(site: Site, *, actor: User | None, **changes: Any) -> Site:
    before = audit.snapshot(site, SITE_FIELDS)
    for field, value in changes.items():
        if field not in SITE_FIELDS:
            raise ValidationError({field: "This field cannot be changed."})
        setattr(site, field, value)
    _validated(site)
    site.save()
    audit.record_update(
        site, actor=actor, organization=site.organization, before=before, fields=SITE_FIELDS
    )
    return site


@transaction.atomic
def delete_site(site: Site, *, actor: User | None) -> None:
    audit.record_delete(
        site, actor=actor, organization=site.organization, fields=SITE_FIELDS, object_id=site.pk
    )
    site.delete()


def _check_site(organization: Organization, site: Site | None) -> None:
    if site is not None and site.organization_id != organization.pk:
        raise ValidationError({"site": "The site belongs to another organisation."})


@transaction.atomic
def create_contact(
    organization: Organization,
    *,
    actor: User | None,
    name: str,
    email: str = "",
    phone: str = "",
    job_title: str = "",
    site: Site | None = None,
    is_active: bool = True,
) -> Contact:
    _check_site(organization, site)
    contact = Contact(
        organization=organization,
        name=name.strip(),
        email=email.strip().lower(),
        phone=phone,
        job_title=job_title,
        site=site,
        is_active=is_active,
    )
    _validated(contact)
    contact.save()
    audit.record_create(contact, actor=actor, organization=organization, fields=CONTACT_FIELDS)
    return contact


@transaction.atomic
def update_contact(contact: Contact, *, actor: User | None, **changes: Any) -> Contact:
    before = audit.snapshot(contact, CONTACT_FIELDS)
    for field, value in changes.items():
        if field not in CONTACT_FIELDS:
            raise ValidationError({field: "This field cannot be changed."})
        if field == "site":
            _check_site(contact.organization, value)
        if field == "email":
            value = str(value).strip().lower()
        setattr(contact, field, value)
    _validated(contact)
    contact.save()
    audit.record_update(
        contact,
        actor=actor,
        organization=contact.organization,
        before=before,
        fields=CONTACT_FIELDS,
    )
    return contact


@transaction.atomic
def delete_contact(contact: Contact, *, actor: User | None) -> None:
    audit.record_delete(
        contact,
        actor=actor,
        organization=contact.organization,
        fields=CONTACT_FIELDS,
        object_id=contact.pk,
    )
    contact.delete()
