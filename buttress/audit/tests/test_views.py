from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.assets import services as asset_services
from buttress.tenancy import services as tenancy_services
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _reprs(response) -> list[str]:
    return [entry.object_repr for entry in response.context["page"].items]


def test_audit_log_lists_changes_newest_first_with_before_and_after(client: Client, agent, org):
    asset = asset_services.create_asset(org, actor=agent, name="web01", criticality="low")
    asset_services.update_asset(asset, actor=agent, criticality="high")
    client.force_login(agent)

    response = client.get(reverse("audit:list"))

    assert response.status_code == 200
    assert [e.action for e in response.context["page"].items] == ["update", "create"]
    assert '<td class="before">low</td>' in response.text
    assert '<td class="after">high</td>' in response.text


def test_audit_log_filters_by_text_type_action_actor_and_organisation(
    client: Client, agent, admin_user, org, other_org
):
    asset_services.create_asset(org, actor=agent, name="web01")
    asset_services.create_asset(other_org, actor=agent, name="web02")
    tenancy_services.create_site(org, actor=admin_user, name="web site")
    client.force_login(admin_user)

    response = client.get(
        reverse("audit:list"),
        {
            "q": "web",
            "object_type": "assets.asset",
            "action": "create",
            "actor": "agent@",
            "org": org.pk,
        },
    )

    assert _reprs(response) == ["web01"]


def test_audit_log_filters_by_date_range(client: Client, agent, org):
    with time_machine.travel(dt.datetime(2025, 1, 10, 12, tzinfo=dt.UTC), tick=False):
        asset_services.create_asset(org, actor=agent, name="old")
    with time_machine.travel(dt.datetime(2025, 2, 10, 12, tzinfo=dt.UTC), tick=False):
        asset_services.create_asset(org, actor=agent, name="new")
    client.force_login(agent)

    response = client.get(reverse("audit:list"), {"since": "2025-01-10", "until": "2025-01-10"})

    assert _reprs(response) == ["old"]


def test_reversed_date_range_is_a_form_error(client: Client, agent):
    client.force_login(agent)

    response = client.get(reverse("audit:list"), {"since": "2025-02-01", "until": "2025-01-01"})

    assert response.status_code == 200
    assert "until" in response.context["form"].errors


def test_audit_log_pages_with_a_cursor(client: Client, agent, org):
    for n in range(55):
        asset_services.create_asset(org, actor=agent, name=f"a{n:02d}")
    client.force_login(agent)

    first = client.get(reverse("audit:list"))
    second = client.get(reverse("audit:list"), {"cursor": first.context["page"].next_cursor})

    assert len(first.context["page"].items) == 50
    assert len(second.context["page"].items) == 5
    assert not set(_reprs(first)) & set(_reprs(second))


def test_bad_cursor_shows_the_newest_entries(client: Client, agent, org):
    asset_services.create_asset(org, actor=agent, name="web01")
    client.force_login(agent)

    response = client.get(reverse("audit:list"), {"cursor": "bm90LWpzb24"})

    assert response.status_code == 200
    assert _reprs(response) == ["web01"]


def test_limited_staff_see_only_their_organisations_entries(client: Client, agent, org, other_org):
    asset_services.create_asset(org, actor=agent, name="web01")
    asset_services.create_asset(other_org, actor=agent, name="web02")
    limited = UserFactory.create(role=Role.VIEWER)
    limited.limited_to.add(org)
    client.force_login(limited)

    response = client.get(reverse("audit:list"))

    assert _reprs(response) == ["web01"]


def test_entries_about_no_organisation_are_for_unrestricted_admins(client: Client, admin_user, org):
    tenancy_services.delete_organization(org, actor=admin_user)
    agent = UserFactory.create(role=Role.AGENT)

    client.force_login(admin_user)
    assert _reprs(client.get(reverse("audit:list"))) == ["Acme Ltd"]

    client.force_login(agent)
    assert _reprs(client.get(reverse("audit:list"))) == []


def test_customer_roles_may_not_read_the_audit_log(client: Client, org_admin, end_user):
    client.force_login(org_admin)
    assert client.get(reverse("audit:list")).status_code == 403

    client.force_login(end_user)
    assert client.get(reverse("audit:list")).status_code == 403


def test_filtering_by_an_invisible_organisation_is_reported_not_applied(
    client: Client, org, other_org
):
    limited = UserFactory.create(role=Role.VIEWER)
    limited.limited_to.add(org)
    client.force_login(limited)

    response = client.get(reverse("audit:list"), {"org": other_org.pk})

    assert "org" in response.context["form"].errors


def test_htmx_request_gets_only_the_results(client: Client, agent, org):
    client.force_login(agent)

    response = client.get(reverse("audit:list"), headers={"HX-Request": "true"})

    assert "<html" not in response.text
    assert 'id="audit-results"' in response.text


def test_history_of_one_object_lists_only_its_entries(client, admin_user, org, other_org):
    tenancy_services.update_organization(org, actor=admin_user, notes="Key account")
    tenancy_services.update_organization(other_org, actor=admin_user, notes="Other")
    client.force_login(admin_user)

    response = client.get(
        "/audit/", {"object_type": "tenancy.organization", "object_id": org.pk, "org": ""}
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Key account" in body
    assert "Other" not in body
    assert "history of one object" in body
