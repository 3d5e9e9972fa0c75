from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.audit.models import AuditEntry
from buttress.tenancy.models import Contact, Organization, Site
from buttress.testing.factories import (
    AssetFactory,
    ContactFactory,
    OrganizationFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_staff_list_shows_every_visible_organisation_with_counts(
    client: Client, agent, org, other_org
):
    SiteFactory.create_batch(2, organization=org)
    AssetFactory.create(organization=other_org)
    client.force_login(agent)

    response = client.get(reverse("tenancy:org_list"))

    assert response.status_code == 200
    counts = {o.slug: (o.site_count, o.asset_count) for o in response.context["page"].items}
    assert counts == {"acme": (2, 0), "globex": (0, 1)}


def test_list_search_narrows_by_name(client: Client, agent, org, other_org):
    client.force_login(agent)

    response = client.get(reverse("tenancy:org_list"), {"q": "glob"})

    assert [o.slug for o in response.context["page"].items] == ["globex"]


def test_list_search_ignores_nul_characters(client: Client, agent, org, other_org):
    # PostgreSQL refuses NUL in a query; the search is for the text around it.
    client.force_login(agent)

    response = client.get(reverse("tenancy:org_list"), {"q": "glob\x00"})

    assert response.status_code == 200
    assert [o.slug for o in response.context["page"].items] == ["globex"]


def test_list_answers_htmx_with_the_results_fragment(client: Client, agent, org):
    client.force_login(agent)

    response = client.get(reverse("tenancy:org_list"), headers={"HX-Request": "true"})

    assert response.text.lstrip().startswith('<div id="org-results"')
    assert "<html" not in response.text


def test_list_with_a_broken_cursor_shows_the_first_page(client: Client, agent, org):
    client.force_login(agent)

    response = client.get(reverse("tenancy:org_list"), {"cursor": "%%%not-a-cursor"})

    assert response.status_code == 200
    assert [o.slug for o in response.context["page"].items] == ["acme"]
    assert "no longer valid" in response.text


def test_list_pages_through_many_organisations(client: Client, agent):
    OrganizationFactory.create_batch(55)
    client.force_login(agent)

    first = client.get(reverse("tenancy:org_list"))
    second = client.get(reverse("tenancy:org_list"), {"cursor": first.context["page"].next_cursor})

    assert len(first.context["page"].items) == 50
    assert len(second.context["page"].items) == 5


def test_customer_admin_sees_only_their_organisation(client: Client, org_admin, org, other_org):
    client.force_login(org_admin)

    response = client.get(reverse("tenancy:org_list"))

    assert [o.slug for o in response.context["page"].items] == ["acme"]


def test_end_user_may_not_open_the_directory(client: Client, end_user, org):
    client.force_login(end_user)

    assert client.get(reverse("tenancy:org_list")).status_code == 403
    assert client.get(reverse("tenancy:org_detail", args=[org.slug])).status_code == 403


def test_unrestricted_admin_creates_an_organisation(client: Client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("tenancy:org_create"),
        {"name": "Initech", "slug": "", "email_domains": "initech.example", "is_active": "on"},
    )

    org = Organization.objects.get(name="Initech")
    assert response.status_code == 302
    assert response["Location"] == reverse("tenancy:org_detail", args=[org.slug])
    assert org.email_domains == ["initech.example"]
    assert AuditEntry.objects.filter(object_type="tenancy.organization", action="create").exists()


def test_creating_a_duplicate_name_shows_a_form_error(client: Client, admin_user, org):
    client.force_login(admin_user)

    response = client.post(reverse("tenancy:org_create"), {"name": "ACME LTD", "slug": "acme-2"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert Organization.objects.count() == 1


def test_bad_email_domain_is_a_form_error_not_a_crash(client: Client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("tenancy:org_create"), {"name": "Initech", "email_domains": "not a domain"}
    )

    assert response.status_code == 200
    assert "email_domains" in response.context["form"].errors


def test_limited_admin_may_not_create_organisations(client: Client, org):
    limited = UserFactory.create(role=Role.ADMIN)
    limited.limited_to.add(org)
    client.force_login(limited)

    response = client.post(reverse("tenancy:org_create"), {"name": "Initech"})

    assert response.status_code == 403
    assert not Organization.objects.filter(name="Initech").exists()


def test_agent_may_not_create_organisations(client: Client, agent):
    client.force_login(agent)

    assert client.get(reverse("tenancy:org_create")).status_code == 403


def test_detail_lists_sites_contacts_and_asset_counts(client: Client, agent, org):
    site = SiteFactory.create(organization=org, name="London")
    AssetFactory.create_batch(2, organization=org, site=site)
    ContactFactory.create(organization=org, name="Pat Example")
    client.force_login(agent)

    response = client.get(reverse("tenancy:org_detail", args=[org.slug]))

    assert response.status_code == 200
    assert "London" in response.text
    assert "Pat Example" in response.text
    assert [s.asset_count for s in response.context["sites"]] == [2]
    assert response.context["counts"].asset_count == 2


def test_admin_edits_an_organisation_and_follows_its_new_slug(client: Client, admin_user, org):
    client.force_login(admin_user)

    response = client.post(
        reverse("tenancy:org_edit", args=[org.slug]),
        {"name": "Acme Group", "slug": "acme-group", "email_domains": "", "is_active": "on"},
    )

    org.refresh_from_db()
    assert (org.name, org.slug) == ("Acme Group", "acme-group")
    assert response["Location"] == reverse("tenancy:org_detail", args=["acme-group"])


def test_agent_may_not_edit_an_organisation(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(reverse("tenancy:org_edit", args=[org.slug]), {"name": "Renamed"})

    assert response.status_code == 403
    org.refresh_from_db()
    assert org.name == "Acme Ltd"


def test_delete_asks_for_confirmation_first(client: Client, admin_user, org):
    client.force_login(admin_user)

    response = client.get(reverse("tenancy:org_delete", args=[org.slug]))

    assert response.status_code == 200
    assert "cannot be undone" in response.text
    assert Organization.objects.filter(pk=org.pk).exists()


def test_admin_deletes_an_organisation(client: Client, admin_user, org):
    client.force_login(admin_user)

    response = client.post(reverse("tenancy:org_delete", args=[org.slug]))

    assert response["Location"] == reverse("tenancy:org_list")
    assert not Organization.objects.filter(pk=org.pk).exists()


def test_viewer_sees_no_change_buttons(client: Client, viewer, org):
    SiteFactory.create(organization=org)
    client.force_login(viewer)

    response = client.get(reverse("tenancy:org_detail", args=[org.slug]))

    assert reverse("tenancy:site_create", args=[org.slug]) not in response.text
    assert reverse("tenancy:org_edit", args=[org.slug]) not in response.text


def test_viewer_posts_are_forbidden(client: Client, viewer, org):
    site = SiteFactory.create(organization=org)
    client.force_login(viewer)

    create = client.post(reverse("tenancy:site_create", args=[org.slug]), {"name": "Leeds"})
    delete = client.post(reverse("tenancy:site_delete", args=[org.slug, site.pk]))

    assert (create.status_code, delete.status_code) == (403, 403)
    assert Site.objects.filter(pk=site.pk).exists()


def test_customer_admin_adds_a_site_to_their_organisation(client: Client, org_admin, org):
    client.force_login(org_admin)

    response = client.post(
        reverse("tenancy:site_create", args=[org.slug]),
        {"name": "Leeds", "address": "1 Street", "timezone": "Europe/London", "notes": ""},
    )

    assert response.status_code == 302
    assert Site.objects.get(organization=org).name == "Leeds"


def test_duplicate_site_name_is_a_form_error(client: Client, agent, org):
    SiteFactory.create(organization=org, name="Leeds")
    client.force_login(agent)

    response = client.post(
        reverse("tenancy:site_create", args=[org.slug]), {"name": "leeds", "timezone": "UTC"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    assert Site.objects.filter(organization=org).count() == 1


def test_unknown_time_zone_is_a_form_error(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(
        reverse("tenancy:site_create", args=[org.slug]), {"name": "Leeds", "timezone": "Mars/Base"}
    )

    assert response.status_code == 200
    assert "timezone" in response.context["form"].errors


def test_site_edit_changes_the_site(client: Client, agent, org):
    site = SiteFactory.create(organization=org, name="Leeds")
    client.force_login(agent)

    client.post(
        reverse("tenancy:site_edit", args=[org.slug, site.pk]),
        {"name": "Leeds HQ", "timezone": "Europe/London"},
    )

    site.refresh_from_db()
    assert site.name == "Leeds HQ"


def test_site_of_another_organisation_under_this_slug_is_not_found(
    client: Client, agent, org, other_org
):
    foreign = SiteFactory.create(organization=other_org)
    client.force_login(agent)

    response = client.get(reverse("tenancy:site_edit", args=[org.slug, foreign.pk]))

    assert response.status_code == 404


def test_site_delete_removes_it(client: Client, agent, org):
    site = SiteFactory.create(organization=org)
    client.force_login(agent)

    client.post(reverse("tenancy:site_delete", args=[org.slug, site.pk]))

    assert not Site.objects.filter(pk=site.pk).exists()


def test_contact_create_with_a_site(client: Client, agent, org):
    site = SiteFactory.create(organization=org)
    client.force_login(agent)

    client.post(
        reverse("tenancy:contact_create", args=[org.slug]),
        {"name": "Pat", "email": "PAT@acme.example", "site": site.pk, "is_active": "on"},
    )

    contact = Contact.objects.get(organization=org)
    assert (contact.email, contact.site) == ("pat@acme.example", site)


def test_contact_cannot_use_a_site_of_another_organisation(client: Client, agent, org, other_org):
    foreign = SiteFactory.create(organization=other_org)
    client.force_login(agent)

    response = client.post(
        reverse("tenancy:contact_create", args=[org.slug]), {"name": "Pat", "site": foreign.pk}
    )

    assert response.status_code == 200
    assert "site" in response.context["form"].errors
    assert not Contact.objects.exists()


def test_duplicate_contact_email_is_a_form_error(client: Client, agent, org):
    ContactFactory.create(organization=org, email="pat@acme.example")
    client.force_login(agent)

    response = client.post(
        reverse("tenancy:contact_create", args=[org.slug]),
        {"name": "Pat Two", "email": "pat@acme.example"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors


def test_contact_edit_and_delete(client: Client, agent, org):
    contact = ContactFactory.create(organization=org, name="Pat")
    client.force_login(agent)

    client.post(
        reverse("tenancy:contact_edit", args=[org.slug, contact.pk]),
        {"name": "Pat Example", "email": "pat@acme.example", "is_active": "on"},
    )
    contact.refresh_from_db()
    assert contact.name == "Pat Example"

    client.post(reverse("tenancy:contact_delete", args=[org.slug, contact.pk]))
    assert not Contact.objects.filter(pk=contact.pk).exists()
