import pytest
from django.core.exceptions import ValidationError

from buttress.audit.models import AuditEntry
from buttress.tenancy import services
from buttress.testing.factories import SiteFactory

pytestmark = pytest.mark.django_db


def test_create_organization_generates_a_free_slug(agent):
    first = services.create_organization(actor=agent, name="Acme Ltd")
    second = services.create_organization(actor=agent, name="ACME, Ltd.")

    assert (first.slug, second.slug) == ("acme-ltd", "acme-ltd-2")


def test_email_domains_are_normalised(agent):
    org = services.create_organization(
        actor=agent, name="X", email_domains=["@Example.COM", "example.com", "b.org"]
    )

    assert org.email_domains == ["b.org", "example.com"]


def test_bad_email_domain_is_refused(agent):
    with pytest.raises(ValidationError):
        services.create_organization(actor=agent, name="X", email_domains=["not a domain"])


def test_update_organization_audits_field_changes(agent, org):
    services.update_organization(org, actor=agent, notes="VIP")

    entry = AuditEntry.objects.get(action="update")
    assert entry.changes == {"notes": ["", "VIP"]}


def test_unknown_field_cannot_be_changed(agent, org):
    with pytest.raises(ValidationError):
        services.update_organization(org, actor=agent, created_at=None)


def test_site_timezone_must_be_iana(agent, org):
    with pytest.raises(ValidationError):
        services.create_site(org, actor=agent, name="HQ", timezone="Mars/Olympus")


def test_contact_site_must_be_of_the_same_organisation(agent, org, other_org):
    foreign = SiteFactory.create(organization=other_org)

    with pytest.raises(ValidationError):
        services.create_contact(org, actor=agent, name="Ann", site=foreign)


def test_contact_email_is_lowercased_and_unique_per_organisation(agent, org, other_org):
    services.create_contact(org, actor=agent, name="Ann", email="Ann@Acme.example")
    services.create_contact(other_org, actor=agent, name="Ann", email="ann@acme.example")

    with pytest.raises(ValidationError):
        services.create_contact(org, actor=agent, name="Ann 2", email="ANN@acme.example")


def test_delete_organization_keeps_its_audit_trail(agent, org):
    services.delete_organization(org, actor=agent)

    entry = AuditEntry.objects.get(action="delete")
    assert entry.organization is None
    assert entry.object_repr == "Acme Ltd"
