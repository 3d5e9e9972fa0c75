from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buttress.assets import services
from buttress.assets.models import Asset, AssetRelation
from buttress.testing.factories import AssetFactory, SiteFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _names(response) -> list[str]:
    return [asset.name for asset in response.context["page"].items]


def test_list_shows_assets_of_every_visible_organisation(client: Client, agent, org, other_org):
    AssetFactory.create(organization=org, name="web01")
    AssetFactory.create(organization=other_org, name="db01")
    client.force_login(agent)

    response = client.get(reverse("assets:list"))

    assert response.status_code == 200
    assert _names(response) == ["db01", "web01"]


def test_list_filters_by_name_kind_status_criticality_site_tag_and_team(client: Client, agent, org):
    site = SiteFactory.create(organization=org)
    team = TeamFactory.create()
    wanted = services.create_asset(
        org,
        actor=None,
        name="db-primary",
        kind="database",
        status="active",
        criticality="high",
        site=site,
        owner_team=team,
        tags=["prod"],
    )
    services.create_asset(org, actor=None, name="db-replica", kind="database", tags=["prod"])
    services.create_asset(org, actor=None, name="web01", kind="server")
    client.force_login(agent)

    response = client.get(
        reverse("assets:list"),
        {
            "q": "DB",
            "org": org.pk,
            "site": site.pk,
            "kind": "database",
            "status": "active",
            "criticality": "high",
            "tag": "Prod",
            "team": team.pk,
        },
    )

    assert _names(response) == [wanted.name]


def test_list_sorts_by_name_descending(client: Client, agent, org):
    for name in ("b", "a", "c"):
        AssetFactory.create(organization=org, name=name)
    client.force_login(agent)

    response = client.get(reverse("assets:list"), {"sort": "-name"})

    assert _names(response) == ["c", "b", "a"]


def test_list_pages_with_a_cursor_keeping_filters(client: Client, agent, org, other_org):
    for n in range(60):
        AssetFactory.create(organization=org, name=f"web{n:02d}")
    AssetFactory.create(organization=other_org, name="web-other")
    client.force_login(agent)

    first = client.get(reverse("assets:list"), {"org": org.pk})
    page = first.context["page"]
    second = client.get(reverse("assets:list"), {"org": org.pk, "cursor": page.next_cursor})

    assert len(page.items) == 50
    assert _names(second) == [f"web{n:02d}" for n in range(50, 60)]
    assert f"cursor={page.next_cursor}" in first.text
    assert f"org={org.pk}" in first.text


def test_list_with_a_bad_cursor_shows_the_first_page_and_a_message(client: Client, agent, org):
    AssetFactory.create(organization=org, name="web01")
    client.force_login(agent)

    response = client.get(reverse("assets:list"), {"cursor": "garbage!"})

    assert response.status_code == 200
    assert _names(response) == ["web01"]
    assert "no longer valid" in response.text


def test_list_reports_an_unknown_filter_value_instead_of_failing(
    client: Client, agent, org, other_org
):
    AssetFactory.create(organization=org, name="web01")
    client.force_login(agent)

    response = client.get(reverse("assets:list"), {"kind": "spaceship", "org": "x"})

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"kind", "org"}
    assert _names(response) == ["web01"]


def test_list_defaults_to_the_organisation_chosen_in_the_header(
    client: Client, agent, org, other_org
):
    AssetFactory.create(organization=org, name="web01")
    AssetFactory.create(organization=other_org, name="db01")
    client.force_login(agent)
    client.post(reverse("web:org_filter"), {"organization": other_org.pk})

    default = client.get(reverse("assets:list"))
    everything = client.get(reverse("assets:list"), {"org": ""})

    assert _names(default) == ["db01"]
    assert _names(everything) == ["db01", "web01"]


def test_htmx_list_request_gets_only_the_results(client: Client, agent, org):
    AssetFactory.create(organization=org, name="web01")
    client.force_login(agent)

    response = client.get(reverse("assets:list"), {"q": "web"}, headers={"HX-Request": "true"})

    assert "<html" not in response.text
    assert 'id="asset-results"' in response.text
    assert 'hx-swap-oob="true"' in response.text
    assert "HX-Request" in response["Vary"]


def test_list_query_count_does_not_grow_with_rows(client: Client, agent, org):
    site = SiteFactory.create(organization=org)
    team = TeamFactory.create()
    client.force_login(agent)

    def queries_for(count: int) -> int:
        Asset.objects.all().delete()
        for n in range(count):
            services.create_asset(
                org, actor=None, name=f"a{n:03d}", site=site, owner_team=team, tags=["x", "y"]
            )
        client.get(reverse("assets:list"))  # session bookkeeping happens on a first request
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("assets:list"))
        assert len(response.context["page"].items) == count
        return len(captured)

    assert queries_for(5) == queries_for(50)


def test_customer_admin_sees_assets_read_only(client: Client, org_admin, org, other_org):
    asset = AssetFactory.create(organization=org, name="web01")
    AssetFactory.create(organization=other_org, name="db01")
    client.force_login(org_admin)

    listing = client.get(reverse("assets:list"))
    detail = client.get(reverse("assets:detail", args=[asset.pk]))

    assert _names(listing) == ["web01"]
    assert reverse("assets:create") not in listing.text
    assert reverse("assets:edit", args=[asset.pk]) not in detail.text
    assert client.post(reverse("assets:delete", args=[asset.pk])).status_code == 403


def test_end_user_has_no_asset_pages(client: Client, end_user, org):
    asset = AssetFactory.create(organization=org)
    client.force_login(end_user)

    assert client.get(reverse("assets:list")).status_code == 403
    assert client.get(reverse("assets:detail", args=[asset.pk])).status_code == 403


def test_viewer_sees_no_edit_buttons_and_posts_are_forbidden(client: Client, viewer, org):
    asset = AssetFactory.create(organization=org, name="web01")
    target = AssetFactory.create(organization=org, name="db01")
    client.force_login(viewer)

    detail = client.get(reverse("assets:detail", args=[asset.pk]))
    edit = client.post(reverse("assets:edit", args=[asset.pk]), {"name": "renamed"})
    relate = client.post(
        reverse("assets:relation_add", args=[asset.pk]), {"kind": "depends_on", "target": "db01"}
    )
    create = client.post(reverse("assets:create"), {"organization": org.pk, "name": "x"})

    assert reverse("assets:edit", args=[asset.pk]) not in detail.text
    assert "Add a relation" not in detail.text
    assert (edit.status_code, relate.status_code, create.status_code) == (403, 403, 403)
    assert not AssetRelation.objects.filter(target=target).exists()


def test_agent_creates_an_asset_with_tags_and_attributes(client: Client, agent, org):
    site = SiteFactory.create(organization=org)
    client.force_login(agent)

    response = client.post(
        reverse("assets:create"),
        {
            "organization": org.pk,
            "name": "web01",
            "kind": "server",
            "criticality": "high",
            "status": "active",
            "site": site.pk,
            "tags": "Prod, linux , ,prod",
            "attributes": "serial = ABC123\n\nos=debian",
        },
    )

    asset = Asset.objects.get(name="web01")
    assert response["Location"] == reverse("assets:detail", args=[asset.pk])
    assert sorted(t.name for t in asset.tags.all()) == ["linux", "prod"]
    assert asset.attributes == {"serial": "ABC123", "os": "debian"}
    assert asset.site == site


def test_create_form_offers_the_sites_of_the_chosen_organisation(
    client: Client, agent, org, other_org
):
    SiteFactory.create(organization=org, name="London")
    SiteFactory.create(organization=other_org, name="Paris")
    client.force_login(agent)

    response = client.get(reverse("assets:create"), {"organization": org.pk})

    assert "London" in response.text
    assert "Paris" not in response.text


def test_duplicate_asset_name_is_a_form_error(client: Client, agent, org):
    AssetFactory.create(organization=org, name="web01")
    client.force_login(agent)

    response = client.post(
        reverse("assets:create"),
        {
            "organization": org.pk,
            "name": "WEB01",
            "kind": "server",
            "criticality": "medium",
            "status": "active",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    assert Asset.objects.filter(organization=org).count() == 1


def test_malformed_attribute_line_is_a_form_error(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(
        reverse("assets:create"),
        {
            "organization": org.pk,
            "name": "web01",
            "kind": "server",
            "criticality": "medium",
            "status": "active",
            "attributes": "serial=1\njust text",
        },
    )

    assert response.context["form"].errors["attributes"] == ["Line 2: write key=value."]


def test_too_long_tag_is_a_form_error(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(
        reverse("assets:create"),
        {
            "organization": org.pk,
            "name": "web01",
            "kind": "server",
            "criticality": "medium",
            "status": "active",
            "tags": "x" * 65,
        },
    )

    assert response.status_code == 200
    assert "tags" in response.context["form"].errors


def test_edit_keeps_typed_attributes_that_were_not_touched(client: Client, agent, org):
    asset = services.create_asset(
        org, actor=None, name="web01", attributes={"cores": 8, "virtual": True, "os": "debian"}
    )
    client.force_login(agent)
    form = client.get(reverse("assets:edit", args=[asset.pk])).context["form"]

    client.post(
        reverse("assets:edit", args=[asset.pk]),
        {
            **{k: v for k, v in form.initial.items() if v is not None},
            "attributes": form.initial["attributes"].replace("debian", "ubuntu"),
        },
    )

    asset.refresh_from_db()
    assert asset.attributes == {"cores": 8, "virtual": True, "os": "ubuntu"}


def test_delete_confirms_then_deletes(client: Client, agent, org):
    asset = AssetFactory.create(organization=org)
    client.force_login(agent)

    confirm = client.get(reverse("assets:delete", args=[asset.pk]))
    deleted = client.post(reverse("assets:delete", args=[asset.pk]))

    assert confirm.status_code == 200
    assert deleted["Location"] == reverse("assets:list")
    assert not Asset.objects.filter(pk=asset.pk).exists()


def test_detail_shows_relations_impact_and_history(client: Client, agent, org):
    db = services.create_asset(org, actor=agent, name="db01", attributes={"serial": "S1"})
    app = services.create_asset(org, actor=agent, name="app01")
    shop = services.create_asset(org, actor=agent, name="shop")
    services.relate_assets(app, actor=agent, kind="depends_on", target=db)
    services.relate_assets(shop, actor=agent, kind="runs_on", target=app)
    client.force_login(agent)

    response = client.get(reverse("assets:detail", args=[db.pk]))

    impact = [
        (i.asset.name, i.depth, i.via.name if i.via else None) for i in response.context["impact"]
    ]
    assert impact == [("app01", 1, None), ("shop", 2, "app01")]
    assert [r.source.name for r in response.context["incoming"]] == ["app01"]
    assert "S1" in response.text
    assert [e.action for e in response.context["history"]] == ["create"]


def test_adding_a_relation_by_name_with_htmx_returns_the_graph(client: Client, agent, org):
    web = AssetFactory.create(organization=org, name="web01")
    db = AssetFactory.create(organization=org, name="db01")
    client.force_login(agent)

    response = client.post(
        reverse("assets:relation_add", args=[web.pk]),
        {"kind": "depends_on", "target": "DB01"},
        headers={"HX-Request": "true"},
    )

    assert AssetRelation.objects.filter(source=web, target=db, kind="depends_on").exists()
    assert response.text.lstrip().startswith('<div id="asset-graph"')


def test_relation_to_an_asset_of_another_organisation_is_refused(
    client: Client, agent, org, other_org
):
    web = AssetFactory.create(organization=org, name="web01")
    AssetFactory.create(organization=other_org, name="db01")
    client.force_login(agent)

    response = client.post(
        reverse("assets:relation_add", args=[web.pk]), {"kind": "depends_on", "target": "db01"}
    )

    assert response.status_code == 200
    assert "No asset named" in response.text
    assert not AssetRelation.objects.exists()


def test_relation_to_itself_is_a_form_error(client: Client, agent, org):
    web = AssetFactory.create(organization=org, name="web01")
    client.force_login(agent)

    response = client.post(
        reverse("assets:relation_add", args=[web.pk]),
        {"kind": "depends_on", "target": "web01"},
        headers={"HX-Request": "true"},
    )

    assert "cannot relate to itself" in response.text
    assert not AssetRelation.objects.exists()


def test_removing_a_relation(client: Client, agent, org):
    web = AssetFactory.create(organization=org, name="web01")
    db = AssetFactory.create(organization=org, name="db01")
    relation = services.relate_assets(web, actor=agent, kind="depends_on", target=db)
    client.force_login(agent)

    response = client.post(reverse("assets:relation_delete", args=[db.pk, relation.pk]))

    assert response["Location"] == reverse("assets:detail", args=[db.pk])
    assert not AssetRelation.objects.exists()


def test_removing_a_relation_through_an_unrelated_asset_is_not_found(client: Client, agent, org):
    web = AssetFactory.create(organization=org, name="web01")
    db = AssetFactory.create(organization=org, name="db01")
    other = AssetFactory.create(organization=org, name="other")
    relation = services.relate_assets(web, actor=agent, kind="depends_on", target=db)
    client.force_login(agent)

    response = client.post(reverse("assets:relation_delete", args=[other.pk, relation.pk]))

    assert response.status_code == 404
    assert AssetRelation.objects.exists()


def test_target_suggestions_come_from_the_same_organisation(client: Client, agent, org, other_org):
    web = AssetFactory.create(organization=org, name="web01")
    AssetFactory.create(organization=org, name="db01")
    AssetFactory.create(organization=other_org, name="db02")
    client.force_login(agent)

    response = client.get(reverse("assets:relation_targets", args=[web.pk]), {"target": "db"})

    assert [a.name for a in response.context["suggestions"]] == ["db01"]


def test_create_with_an_out_of_range_organisation_id_is_a_form_error(client: Client, agent, org):
    client.force_login(agent)

    response = client.post(
        reverse("assets:create"),
        {"organization": "99999999999999999999", "name": "web01", "kind": "server"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Asset.objects.exists()


def test_relation_target_search_ignores_nul_characters(client: Client, agent, org):
    asset = AssetFactory.create(organization=org, name="web01")
    AssetFactory.create(organization=org, name="db01")
    client.force_login(agent)

    response = client.get(reverse("assets:relation_targets", args=[asset.pk]), {"target": "d\x00b"})

    assert response.status_code == 200
