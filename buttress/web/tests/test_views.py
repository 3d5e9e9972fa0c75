from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.assets import services as asset_services
from buttress.testing.factories import (
    AssetFactory,
    OrganizationFactory,
    SiteFactory,
    UserFactory,
)
from buttress.web.orgfilter import SESSION_KEY

pytestmark = pytest.mark.django_db


def test_home_sends_anonymous_visitors_to_sign_in(client: Client, agent) -> None:
    login_url = resolve_url(settings.LOGIN_URL)

    response = client.get(reverse("web:home"))

    assert response.status_code == 302
    assert response["Location"].startswith(login_url)


def test_home_shows_staff_counts_per_organisation(client: Client, admin_user, org, other_org):
    SiteFactory.create(organization=org)
    AssetFactory.create_batch(3, organization=org)
    AssetFactory.create(organization=other_org)
    client.force_login(admin_user)

    response = client.get(reverse("web:home"))

    assert response.status_code == 200
    rows = {o.name: (o.site_count, o.asset_count) for o in response.context["organizations"]}
    assert rows == {"Acme Ltd": (1, 3), "Globex Corp": (0, 1)}


def test_home_shows_recent_changes_to_staff(client: Client, agent, org):
    asset_services.create_asset(org, actor=agent, name="web01")
    client.force_login(agent)

    response = client.get(reverse("web:home"))

    assert "web01" in response.text
    assert [e.object_repr for e in response.context["recent"]] == ["web01"]


def test_home_shows_customer_admin_only_their_organisation(
    client: Client, org_admin, org, other_org
):
    AssetFactory.create(organization=org)
    client.force_login(org_admin)

    response = client.get(reverse("web:home"))

    assert response.context["organization"] == org
    assert response.context["organization"].asset_count == 1
    assert "Globex" not in response.text
    assert "recent" not in response.context


def test_end_user_navigation_has_home_and_their_requests(client: Client, end_user):
    client.force_login(end_user)

    response = client.get(reverse("web:home"))

    labels = [link.label for link in response.context["nav"].items]
    assert labels == ["Home", "My requests"]


def test_viewer_navigation_lists_staff_areas_without_user_management(client: Client, viewer):
    client.force_login(viewer)

    response = client.get(reverse("web:home"))

    labels = [link.label for link in response.context["nav"].items]
    assert labels == [
        "Home",
        "Organisations",
        "Tickets",
        "Service catalogue",
        "SLA",
        "Assets",
        "Monitors",
        "Maintenance",
        "Escalation",
        "On call",
        "Alerts",
        "Audit log",
    ]


def test_navigation_marks_the_current_area(client: Client, agent):
    client.force_login(agent)

    response = client.get(reverse("assets:list"))

    active = [link.label for link in response.context["nav"].items if link.active]
    assert active == ["Assets"]
    assert 'aria-current="page"' in response.text


def test_layout_has_skip_link_and_main_landmark(client: Client, agent):
    client.force_login(agent)

    html = client.get(reverse("web:home")).text

    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert 'aria-label="Main"' in html


def test_htmx_is_served_locally():
    vendored = Path(settings.BASE_DIR) / "web" / "static" / "vendor" / "htmx.min.js"

    assert vendored.stat().st_size > 10_000
    assert "htmx" in vendored.read_text(encoding="utf-8")[:200]


def test_switching_organisation_stores_it_in_the_session(client: Client, agent, org, other_org):
    client.force_login(agent)

    response = client.post(
        reverse("web:org_filter"), {"organization": org.pk, "next": reverse("assets:list")}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("assets:list")
    assert client.session[SESSION_KEY] == org.pk


def test_switching_to_all_organisations_clears_the_filter(client: Client, agent, org):
    client.force_login(agent)
    client.post(reverse("web:org_filter"), {"organization": org.pk})

    client.post(reverse("web:org_filter"), {"organization": ""})

    assert SESSION_KEY not in client.session


def test_switching_to_an_invisible_organisation_is_not_found(client: Client, org, other_org):
    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(org)
    client.force_login(limited)

    response = client.post(reverse("web:org_filter"), {"organization": other_org.pk})

    assert response.status_code == 404
    assert SESSION_KEY not in client.session


def test_switching_with_garbage_id_is_not_found(client: Client, agent):
    client.force_login(agent)

    response = client.post(reverse("web:org_filter"), {"organization": "abc"})

    assert response.status_code == 404


def test_switcher_ignores_an_offsite_next(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(
        reverse("web:org_filter"), {"organization": org.pk, "next": "https://evil.example/"}
    )

    assert response["Location"] == reverse("web:home")


def test_switcher_answers_htmx_with_a_redirect_header(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(
        reverse("web:org_filter"),
        {"organization": org.pk, "next": "/assets/"},
        headers={"HX-Request": "true"},
    )

    assert response["HX-Redirect"] == "/assets/"


def test_stored_organisation_stops_applying_once_access_is_lost(client: Client, org, other_org):
    third = OrganizationFactory.create()
    limited = UserFactory.create(role=Role.AGENT)
    client.force_login(limited)
    client.post(reverse("web:org_filter"), {"organization": other_org.pk})
    limited.limited_to.add(org, third)

    response = client.get(reverse("assets:list"))

    assert response.context["form"].cleaned_data["org"] is None
    assert SESSION_KEY not in client.session


def test_switcher_is_shown_to_staff_only(client: Client, agent, org_admin, org, other_org):
    client.force_login(agent)
    assert 'name="organization"' in client.get(reverse("web:home")).text

    client.force_login(org_admin)
    assert 'id="org-switcher-select"' not in client.get(reverse("web:home")).text


def test_missing_page_uses_the_layout(client: Client, agent):
    client.force_login(agent)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "Not found" in response.text
    assert '<main id="main"' in response.text
