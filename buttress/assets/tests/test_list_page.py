"""The asset list's rows and filter selects, as the page shows them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.assets import services
from buttress.testing.factories import SiteFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_rows_show_labels_names_and_tags_and_link_to_the_asset(
    client: Client, agent, org, other_org
):
    site = SiteFactory.create(organization=org, name="HQ")
    team = TeamFactory.create(name="Infra")
    asset = services.create_asset(
        org,
        actor=None,
        name="db01",
        kind="virtual_machine",
        status="maintenance",
        criticality="critical",
        site=site,
        owner_team=team,
        tags=["sql", "prod"],
    )
    client.force_login(agent)

    html = client.get(reverse("assets:list"), {"org": ""}).text

    assert f'<a href="{reverse("assets:detail", args=[asset.pk])}">db01</a>' in html
    assert f"<td>{org.name}</td>" in html
    assert "<td>HQ</td>" in html
    assert "<td>Virtual machine</td>" in html
    assert "<td>In maintenance</td>" in html
    assert '<span class="badge badge--critical">Critical</span>' in html
    assert "<td>Infra</td>" in html
    assert '<span class="tag">prod</span><span class="tag">sql</span>' in html


def test_filter_selects_keep_the_choice_and_offer_that_organisations_sites(
    client: Client, agent, org, other_org
):
    mine = SiteFactory.create(organization=org, name="Main office")
    SiteFactory.create(organization=other_org, name="Elsewhere")
    client.force_login(agent)

    html = client.get(reverse("assets:list"), {"org": org.pk, "site": mine.pk}).text

    assert f'<option value="{org.pk}" selected>{org.name}</option>' in html
    assert f'<option value="{mine.pk}" selected>Main office</option>' in html
    assert "Elsewhere" not in html
    assert f"<td>{org.name}</td>" not in html  # one organisation: no organisation column


def test_site_of_another_organisation_is_dropped_from_the_filter(
    client: Client, agent, org, other_org
):
    foreign = SiteFactory.create(organization=other_org)
    client.force_login(agent)

    response = client.get(reverse("assets:list"), {"org": org.pk, "site": foreign.pk})

    assert response.status_code == 200
    assert not response.context["form"].errors
    assert response.context["form"].cleaned_data["site"] is None
