import pytest

from buttress.accounts.models import Role
from buttress.api.tests.conftest import api_as
from buttress.tenancy.models import Contact, Organization, Site
from buttress.testing.factories import ContactFactory, OrganizationFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_admin_creates_an_organisation(as_admin):
    response = as_admin.post(
        "/organizations", {"name": "Initech", "email_domains": ["initech.example"]}
    )

    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "initech"
    assert Organization.objects.filter(name="Initech").exists()


def test_limited_admin_may_not_create_or_delete_organisations(org):
    admin = UserFactory.create(role=Role.ADMIN)
    admin.limited_to.add(org)
    client = api_as(admin)

    assert client.post("/organizations", {"name": "X"}).status_code == 403
    assert client.delete(f"/organizations/{org.pk}").status_code == 403


def test_duplicate_organisation_name_is_a_field_error(as_admin, org):
    response = as_admin.post("/organizations", {"name": "ACME LTD"})

    assert response.status_code == 400
    assert isinstance(response.json()["detail"], dict)


def test_customer_sees_only_their_organisation(as_org_admin, org, other_org):
    items = as_org_admin.get("/organizations").json()["items"]

    assert [o["id"] for o in items] == [org.pk]


def test_org_admin_may_not_change_the_organisation_itself(as_org_admin, org):
    assert as_org_admin.patch(f"/organizations/{org.pk}", {"name": "Mine"}).status_code == 403


def test_admin_patches_an_organisation(as_admin, org):
    response = as_admin.patch(f"/organizations/{org.pk}", {"notes": "VIP", "is_active": False})

    assert response.status_code == 200
    org.refresh_from_db()
    assert (org.notes, org.is_active) == ("VIP", False)


def test_agent_may_not_change_the_organisation_itself(as_agent, org):
    # Agents change an organisation's sites and contacts; the web page refuses them the
    # organisation's own fields, and so does the API.
    response = as_agent.patch(f"/organizations/{org.pk}", {"name": "Renamed", "is_active": False})

    assert response.status_code == 403
    org.refresh_from_db()
    assert (org.name, org.is_active) == ("Acme Ltd", True)


def test_admin_deletes_an_organisation(as_admin, other_org):
    assert as_admin.delete(f"/organizations/{other_org.pk}").status_code == 204
    assert not Organization.objects.filter(pk=other_org.pk).exists()


def test_sites_crud(as_agent, org):
    created = as_agent.post(
        "/sites", {"organization": org.pk, "name": "HQ", "timezone": "Europe/Paris"}
    )
    assert created.status_code == 201, created.content
    site_id = created.json()["id"]

    assert as_agent.get(f"/sites/{site_id}").json()["timezone"] == "Europe/Paris"
    assert (
        as_agent.patch(f"/sites/{site_id}", {"address": "1 Main St"}).json()["address"]
        == "1 Main St"
    )
    assert as_agent.delete(f"/sites/{site_id}").status_code == 204
    assert not Site.objects.exists()


def test_bad_timezone_is_a_field_error(as_agent, org):
    response = as_agent.post(
        "/sites", {"organization": org.pk, "name": "HQ", "timezone": "Nowhere"}
    )

    assert response.status_code == 400
    assert "timezone" in response.json()["detail"]


def test_sites_list_filters_by_organisation(as_agent, org, other_org):
    SiteFactory.create(organization=org, name="A")
    SiteFactory.create(organization=other_org, name="B")

    assert [s["name"] for s in as_agent.get("/sites", organization=org.pk).json()["items"]] == ["A"]
    assert [s["name"] for s in as_agent.get("/sites").json()["items"]] == ["A", "B"]


def test_end_user_may_read_sites_but_not_change_them(end_user, org):
    client = api_as(end_user)
    site = SiteFactory.create(organization=org)

    assert client.get(f"/sites/{site.pk}").status_code == 200
    assert client.patch(f"/sites/{site.pk}", {"name": "x"}).status_code == 403


def test_contacts_crud_with_a_site(as_org_admin, org):
    site = SiteFactory.create(organization=org)

    created = as_org_admin.post(
        "/contacts",
        {"organization": org.pk, "name": "Ann", "email": "Ann@Acme.example", "site": site.pk},
    )
    assert created.status_code == 201, created.content
    assert created.json()["email"] == "ann@acme.example"
    assert created.json()["site"] == site.pk
    contact_id = created.json()["id"]

    assert as_org_admin.patch(f"/contacts/{contact_id}", {"site": None}).json()["site"] is None
    assert as_org_admin.delete(f"/contacts/{contact_id}").status_code == 204
    assert not Contact.objects.exists()


def test_contact_with_a_site_of_another_organisation_is_refused(as_agent, org, other_org):
    foreign = SiteFactory.create(organization=other_org)

    response = as_agent.post(
        "/contacts", {"organization": org.pk, "name": "Ann", "site": foreign.pk}
    )

    assert response.status_code == 400
    assert "site" in response.json()["detail"]


def test_contacts_search_by_name_or_email(as_agent, org):
    ContactFactory.create(organization=org, name="Ann", email="a@x.example")
    ContactFactory.create(organization=org, name="Bob", email="bob@ann.example")
    ContactFactory.create(organization=org, name="Cy", email="c@x.example")

    items = as_agent.get("/contacts", organization=org.pk, q="ann").json()["items"]

    assert [c["name"] for c in items] == ["Ann", "Bob"]


def test_pagination_walks_every_row_once_both_ways(as_agent):
    for n in range(23):
        OrganizationFactory.create(name=f"Org {n:02d}", slug=f"org-{n}")
    expected = [f"Org {n:02d}" for n in range(23)]

    seen, cursor, page = [], None, None
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = as_agent.get("/organizations", **params).json()
        seen += [o["name"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected

    backwards = [o["name"] for o in page["items"]]
    while page["prev_cursor"]:
        page = as_agent.get("/organizations", limit=5, cursor=page["prev_cursor"]).json()
        backwards = [o["name"] for o in page["items"]] + backwards
    assert backwards == expected
