import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buttress.assets import services
from buttress.assets.models import Asset, AssetRelation
from buttress.audit.models import AuditEntry
from buttress.testing.factories import AssetFactory, SiteFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_agent_creates_asset_with_tags_and_attributes(as_agent, org):
    site = SiteFactory.create(organization=org, name="HQ")
    team = TeamFactory.create(name="Infra")

    response = as_agent.post(
        "/assets",
        {
            "organization": org.pk,
            "name": "web01",
            "kind": "virtual_machine",
            "site": site.pk,
            "owner_team": team.pk,
            "tags": ["Prod", "web"],
            "attributes": {"cpu": 4, "os": "Debian"},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["organization"] == org.pk
    assert body["site"] == site.pk
    assert body["owner_team"] == team.pk
    assert body["kind"] == "virtual_machine"
    assert body["tags"] == ["prod", "web"]
    assert body["attributes"] == {"cpu": 4, "os": "Debian"}
    assert Asset.objects.get(pk=body["id"]).name == "web01"


def test_unknown_kind_is_refused_with_the_allowed_values(as_agent, org):
    response = as_agent.post("/assets", {"organization": org.pk, "name": "x", "kind": "toaster"})

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"][-1] == "kind"
    assert "virtual_machine" in detail[0]["msg"]


def test_site_of_another_organisation_is_refused(as_agent, org, other_org):
    foreign = SiteFactory.create(organization=other_org)

    response = as_agent.post("/assets", {"organization": org.pk, "name": "x", "site": foreign.pk})

    assert response.status_code == 400
    assert "site" in response.json()["detail"]


def test_duplicate_name_is_refused_as_a_field_error(as_agent, org):
    AssetFactory.create(organization=org, name="db01")

    response = as_agent.post("/assets", {"organization": org.pk, "name": "DB01"})

    assert response.status_code == 400
    assert response.json()["detail"]


def test_patch_changes_only_given_fields_and_audits_them(as_agent, agent, org):
    asset = services.create_asset(org, actor=agent, name="db01", description="old")

    response = as_agent.patch(f"/assets/{asset.pk}", {"criticality": "high", "tags": ["sql"]})

    assert response.status_code == 200, response.content
    assert response.json()["criticality"] == "high"
    assert response.json()["description"] == "old"
    entry = AuditEntry.objects.filter(action="update", object_id=str(asset.pk)).get()
    assert entry.changes == {"criticality": ["medium", "high"], "tags": [[], ["sql"]]}


def test_patch_with_null_name_is_refused(as_agent, org):
    asset = AssetFactory.create(organization=org)

    response = as_agent.patch(f"/assets/{asset.pk}", {"name": None})

    assert response.status_code == 400


def test_delete_removes_the_asset(as_agent, org):
    asset = AssetFactory.create(organization=org)

    response = as_agent.delete(f"/assets/{asset.pk}")

    assert response.status_code == 204
    assert not Asset.objects.filter(pk=asset.pk).exists()


def test_viewer_may_read_but_not_change_assets(as_viewer, org):
    asset = AssetFactory.create(organization=org)

    assert as_viewer.get(f"/assets/{asset.pk}").status_code == 200
    response = as_viewer.patch(f"/assets/{asset.pk}", {"name": "renamed"})

    assert response.status_code == 403


def test_org_admin_reads_but_does_not_edit_their_cmdb(as_org_admin, org):
    asset = AssetFactory.create(organization=org)

    assert as_org_admin.get(f"/assets/{asset.pk}").status_code == 200
    assert as_org_admin.get("/assets", organization=org.pk).status_code == 200
    assert as_org_admin.patch(f"/assets/{asset.pk}", {"name": "x"}).status_code == 403
    assert as_org_admin.get(f"/assets/{asset.pk}/history").status_code == 403


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "laptop"}, ["lap1"]),
        ({"status": "retired"}, ["old1"]),
        ({"criticality": "critical"}, ["db1"]),
        ({"tag": "Prod"}, ["db1"]),
        ({"q": "AP"}, ["lap1"]),
    ],
)
def test_list_filters(as_agent, agent, org, query, expected):
    services.create_asset(org, actor=agent, name="db1", criticality="critical", tags=["prod"])
    services.create_asset(org, actor=agent, name="lap1", kind="laptop")
    services.create_asset(org, actor=agent, name="old1", status="retired")

    response = as_agent.get("/assets", organization=org.pk, **query)

    assert response.status_code == 200
    assert [a["name"] for a in response.json()["items"]] == expected


def test_list_filters_by_site_and_team(as_agent, agent, org):
    site = SiteFactory.create(organization=org)
    team = TeamFactory.create()
    services.create_asset(org, actor=agent, name="a", site=site)
    services.create_asset(org, actor=agent, name="b", owner_team=team)

    assert [a["name"] for a in as_agent.get("/assets", site=site.pk).json()["items"]] == ["a"]
    assert [a["name"] for a in as_agent.get("/assets", owner_team=team.pk).json()["items"]] == ["b"]


def test_list_query_count_does_not_grow_with_page_size(as_agent, agent, org):
    site = SiteFactory.create(organization=org)
    team = TeamFactory.create()
    for n in range(60):
        services.create_asset(
            org, actor=agent, name=f"a{n:03d}", site=site, owner_team=team, tags=["x", f"t{n}"]
        )

    def count(limit: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = as_agent.get("/assets", organization=org.pk, limit=limit)
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        return len(queries)

    as_agent.get("/assets")  # the token's first use records it; later calls only read

    assert count(5) == count(50)


def test_relations_list_both_directions_with_names(as_agent, agent, org):
    web = AssetFactory.create(organization=org, name="web")
    db = AssetFactory.create(organization=org, name="db")
    hv = AssetFactory.create(organization=org, name="hv")
    services.relate_assets(web, actor=agent, kind="depends_on", target=db)
    services.relate_assets(db, actor=agent, kind="runs_on", target=hv)

    body = as_agent.get(f"/assets/{db.pk}/relations").json()

    assert [(r["kind"], r["target_name"]) for r in body["outgoing"]] == [("runs_on", "hv")]
    assert [(r["kind"], r["source_name"], r["target"]) for r in body["incoming"]] == [
        ("depends_on", "web", db.pk)
    ]
    assert body["truncated"] is False


def test_relation_is_created_and_deleted(as_agent, org):
    web = AssetFactory.create(organization=org, name="web")
    db = AssetFactory.create(organization=org, name="db")

    created = as_agent.post(f"/assets/{web.pk}/relations", {"kind": "depends_on", "target": db.pk})
    assert created.status_code == 201, created.content
    assert created.json()["target_name"] == "db"

    deleted = as_agent.delete(f"/assets/{web.pk}/relations/{created.json()['id']}")
    assert deleted.status_code == 204
    assert not AssetRelation.objects.exists()


def test_relation_to_an_asset_of_another_organisation_is_refused(as_agent, org, other_org):
    web = AssetFactory.create(organization=org)
    foreign = AssetFactory.create(organization=other_org)

    response = as_agent.post(
        f"/assets/{web.pk}/relations", {"kind": "depends_on", "target": foreign.pk}
    )

    assert response.status_code == 400
    assert "target" in response.json()["detail"]


def test_relation_to_itself_is_refused(as_agent, org):
    web = AssetFactory.create(organization=org)

    response = as_agent.post(f"/assets/{web.pk}/relations", {"kind": "runs_on", "target": web.pk})

    assert response.status_code == 400


def test_relation_of_another_asset_is_not_found_under_this_one(as_agent, agent, org):
    a, b, c = (AssetFactory.create(organization=org) for _ in range(3))
    relation = services.relate_assets(b, actor=agent, kind="depends_on", target=c)

    assert as_agent.delete(f"/assets/{a.pk}/relations/{relation.pk}").status_code == 404


def test_impact_lists_transitive_dependants(as_agent, agent, org):
    hv = AssetFactory.create(organization=org, name="hv")
    vm = AssetFactory.create(organization=org, name="vm")
    app = AssetFactory.create(organization=org, name="app")
    services.relate_assets(vm, actor=agent, kind="runs_on", target=hv)
    services.relate_assets(app, actor=agent, kind="depends_on", target=vm)

    items = as_agent.get(f"/assets/{hv.pk}/impact").json()["items"]

    assert items == [
        {"asset": {"id": vm.pk, "name": "vm"}, "depth": 1, "via": None, "kind": "runs_on"},
        {
            "asset": {"id": app.pk, "name": "app"},
            "depth": 2,
            "via": {"id": vm.pk, "name": "vm"},
            "kind": "depends_on",
        },
    ]


def test_history_lists_the_assets_audit_entries_newest_first(as_agent, agent, org):
    asset = services.create_asset(org, actor=agent, name="db")
    services.update_asset(asset, actor=agent, status="maintenance")

    items = as_agent.get(f"/assets/{asset.pk}/history").json()["items"]

    assert [e["action"] for e in items] == ["update", "create"]
    assert items[0]["changes"] == {"status": ["active", "maintenance"]}
    assert items[0]["actor_label"] == agent.email
