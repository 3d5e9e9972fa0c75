import pytest
from django.core.exceptions import ValidationError

from buttress.assets import services
from buttress.assets.models import Asset, AssetRelation
from buttress.audit.models import AuditEntry
from buttress.testing.factories import AssetFactory, SiteFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _names(impacted: list[services.Impacted]) -> list[tuple[str, int, str | None, str]]:
    return [(i.asset.name, i.depth, i.via.name if i.via else None, i.kind) for i in impacted]


def test_impact_follows_depends_on_and_runs_on_transitively(org, agent):
    hv, vm, app, shop = (
        AssetFactory.create(organization=org, name=n) for n in ("hv", "vm", "app", "shop")
    )
    services.relate_assets(vm, actor=agent, kind="runs_on", target=hv)
    services.relate_assets(app, actor=agent, kind="depends_on", target=vm)
    services.relate_assets(shop, actor=agent, kind="depends_on", target=app)

    assert _names(services.impact_of(hv)) == [
        ("vm", 1, None, "runs_on"),
        ("app", 2, "vm", "depends_on"),
        ("shop", 3, "app", "depends_on"),
    ]


def test_impact_terminates_on_cycles_and_lists_each_asset_once(org, agent):
    a, b, c = (AssetFactory.create(organization=org, name=n) for n in ("a", "b", "c"))
    services.relate_assets(b, actor=agent, kind="depends_on", target=a)
    services.relate_assets(c, actor=agent, kind="depends_on", target=b)
    services.relate_assets(a, actor=agent, kind="depends_on", target=c)

    assert _names(services.impact_of(a)) == [
        ("b", 1, None, "depends_on"),
        ("c", 2, "b", "depends_on"),
    ]


def test_connects_to_does_not_carry_impact(org, agent):
    switch, server = AssetFactory.create(organization=org), AssetFactory.create(organization=org)
    services.relate_assets(server, actor=agent, kind="connects_to", target=switch)

    assert services.impact_of(switch) == []


def test_impact_takes_the_shortest_path(org, agent):
    db, app, web = (AssetFactory.create(organization=org, name=n) for n in ("db", "app", "web"))
    services.relate_assets(app, actor=agent, kind="depends_on", target=db)
    services.relate_assets(web, actor=agent, kind="depends_on", target=app)
    services.relate_assets(web, actor=agent, kind="depends_on", target=db)

    assert _names(services.impact_of(db)) == [
        ("app", 1, None, "depends_on"),
        ("web", 1, None, "depends_on"),
    ]


def test_update_records_field_level_before_and_after(org, agent):
    site = SiteFactory.create(organization=org, name="HQ")
    asset = services.create_asset(org, actor=agent, name="db", tags=["a"], attributes={"x": 1})

    services.update_asset(
        asset, actor=agent, site=site, tags=["a", "b"], attributes={"x": 2}, description=""
    )

    entry = AuditEntry.objects.get(action="update")
    assert entry.actor == agent
    assert entry.organization == org
    assert entry.changes == {
        "site": [None, "HQ"],
        "tags": [["a"], ["a", "b"]],
        "attributes": [{"x": 1}, {"x": 2}],
    }


def test_update_without_change_records_nothing(org, agent):
    asset = services.create_asset(org, actor=agent, name="db")

    services.update_asset(asset, actor=agent, name="db")

    assert not AuditEntry.objects.filter(action="update").exists()


def test_create_records_the_fields_that_have_values(org, agent):
    team = TeamFactory.create(name="Ops")

    asset = services.create_asset(org, actor=agent, name="db", owner_team=team, tags=["x"])

    entry = AuditEntry.objects.get(action="create")
    assert entry.object_id == str(asset.pk)
    assert entry.changes["owner_team"] == [None, "Ops"]
    assert entry.changes["tags"] == [None, ["x"]]
    assert "description" not in entry.changes


def test_delete_records_what_was_there(org, agent):
    asset = services.create_asset(org, actor=agent, name="db", description="gone soon")
    pk = asset.pk

    services.delete_asset(asset, actor=agent)

    entry = AuditEntry.objects.get(action="delete")
    assert entry.object_id == str(pk)
    assert entry.changes["description"] == ["gone soon", None]


def test_site_of_another_organisation_is_refused(org, other_org, agent):
    with pytest.raises(ValidationError):
        services.create_asset(
            org, actor=agent, name="x", site=SiteFactory.create(organization=other_org)
        )


def test_relation_across_organisations_is_refused(org, other_org, agent):
    mine, theirs = (
        AssetFactory.create(organization=org),
        AssetFactory.create(organization=other_org),
    )

    with pytest.raises(ValidationError):
        services.relate_assets(mine, actor=agent, kind="depends_on", target=theirs)


def test_bulk_create_writes_assets_tags_and_one_entry_each(org, agent):
    created = services.bulk_create_assets(
        org,
        actor=agent,
        assets=[
            services.NewAsset(name="a", tags=["x", "y"]),
            services.NewAsset(name="b", kind="laptop", tags=["x"]),
        ],
    )

    assert [a.pk is not None for a in created] == [True, True]
    assert sorted(t.name for t in Asset.objects.get(name="a").tags.all()) == ["x", "y"]
    entries = AuditEntry.objects.filter(action="create").order_by("object_repr")
    assert [(e.object_repr, e.changes["tags"]) for e in entries] == [
        ("a", [None, ["x", "y"]]),
        ("b", [None, ["x"]]),
    ]


def test_bulk_create_checks_fields_like_create(org, agent):
    with pytest.raises(ValidationError):
        services.bulk_create_assets(
            org, actor=agent, assets=[services.NewAsset(name="a", kind="toaster")]
        )
    assert not Asset.objects.exists()


def test_bulk_relate_records_one_entry_per_source(org, agent):
    a, b, c = (AssetFactory.create(organization=org, name=n) for n in ("a", "b", "c"))

    services.bulk_relate_assets(
        org, actor=agent, relations=[(a, "depends_on", b), (a, "runs_on", c)]
    )

    assert AssetRelation.objects.count() == 2
    entry = AuditEntry.objects.get()
    assert entry.changes == {"relations": [None, "depends_on b, runs_on c"]}
