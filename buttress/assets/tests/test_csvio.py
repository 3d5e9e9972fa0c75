import pytest

from buttress.accounts.models import User
from buttress.assets import services
from buttress.assets.csvio import (
    MAX_ROWS,
    ImportReport,
    RowError,
    export_assets,
    import_assets,
    parse_attribute,
)
from buttress.assets.models import Asset, AssetRelation
from buttress.audit.models import AuditEntry
from buttress.tenancy.models import Organization
from buttress.testing.factories import AssetFactory, SiteFactory, TeamFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "name,kind,site,criticality,status,owner_team,tags,description,depends_on,runs_on,connects_to"
)


def _import(
    org: Organization, agent: User, text: str | bytes, *, dry_run: bool = False
) -> ImportReport:
    return import_assets(org, actor=agent, data=text, dry_run=dry_run)


def test_new_rows_are_created_with_every_field(org, agent):
    SiteFactory.create(organization=org, name="HQ")
    TeamFactory.create(name="Infra")
    text = (
        "name,kind,site,criticality,status,owner_team,tags,description,attr:cpu,attr:os\n"
        "web01,virtual_machine,hq,high,maintenance,infra,prod;Web,Front end,4,Debian\n"
    )

    report = _import(org, agent, text)

    assert report.ok, report.errors
    assert (report.created, report.updated) == (1, 0)
    asset = Asset.objects.get(organization=org, name="web01")
    assert asset.kind == "virtual_machine"
    assert asset.site is not None
    assert asset.site.name == "HQ"
    assert asset.owner_team is not None
    assert asset.owner_team.name == "Infra"
    assert (asset.criticality, asset.status) == ("high", "maintenance")
    assert sorted(t.name for t in asset.tags.all()) == ["prod", "web"]
    assert asset.attributes == {"cpu": 4, "os": "Debian"}


def test_existing_assets_are_matched_by_name_ignoring_case(org, agent):
    asset = services.create_asset(org, actor=agent, name="DB01", description="old")

    report = _import(org, agent, "name,description\ndb01,new\n")

    assert (report.created, report.updated) == (0, 1)
    asset.refresh_from_db()
    assert (asset.name, asset.description) == ("db01", "new")


def test_columns_left_out_are_left_alone(org, agent):
    asset = services.create_asset(org, actor=agent, name="db", tags=["keep"], criticality="high")

    _import(org, agent, "name,description\ndb,changed\n")

    asset.refresh_from_db()
    assert asset.criticality == "high"
    assert [t.name for t in asset.tags.all()] == ["keep"]


def test_relations_may_name_rows_of_the_same_file_and_existing_assets(org, agent):
    AssetFactory.create(organization=org, name="hv01")
    text = "name,depends_on,runs_on\napp,db;cache,\ndb,,HV01\ncache,,\n"

    report = _import(org, agent, text)

    assert report.ok, report.errors
    edges = set(AssetRelation.objects.values_list("source__name", "kind", "target__name"))
    assert edges == {
        ("app", "depends_on", "db"),
        ("app", "depends_on", "cache"),
        ("db", "runs_on", "hv01"),
    }


def test_an_empty_relation_cell_removes_that_kind_of_relation(org, agent):
    app = AssetFactory.create(organization=org, name="app")
    db = AssetFactory.create(organization=org, name="db")
    services.relate_assets(app, actor=agent, kind="depends_on", target=db)

    report = _import(org, agent, "name,depends_on\napp,\n")

    assert report.updated == 1
    assert not AssetRelation.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,toaster", "Unknown kind 'toaster'; use one of server, virtual_machine"),
        (",server", "The name is missing."),
        ("y,server,Moon", "Unknown site 'Moon'"),
        ("z,server,,urgent", "Unknown criticality 'urgent'"),
        ("z,server,,,gone", "Unknown status 'gone'"),
        ("z,server,,,,Nobody", "Unknown team 'Nobody'"),
        ("z,server,,,,,,,ghost", "depends_on names 'ghost'"),
        ("z,server,,,,,,,,z", "cannot have runs_on itself"),
        ("z,server,,,,,,,,,,extra", "This row has 12 fields"),
        ("n" * 201 + ",server", "longer than 200"),
    ],
)
def test_each_kind_of_bad_row_is_reported_on_its_line(org, agent, row, message):
    text = f"{HEADER}\nfine,server\n{row}\n"

    report = _import(org, agent, text)

    assert not report.ok
    assert len(report.errors) == 1
    assert report.errors[0].line == 3
    assert message in report.errors[0].message
    assert not Asset.objects.exists()


def test_every_bad_row_is_reported_and_nothing_is_imported(org, agent):
    text = "name,kind\nok1,server\nbad1,toaster\nok2,laptop\n,server\nok1,server\n"

    report = _import(org, agent, text)

    assert [e.line for e in report.errors] == [3, 5, 6]
    assert "already used on line 2" in report.errors[2].message
    assert not Asset.objects.exists()
    assert not AuditEntry.objects.exists()


def test_line_numbers_count_the_lines_of_quoted_multiline_cells(org, agent):
    text = 'name,description,kind\nok,"first\nsecond\nthird",server\nbad,,toaster\n'

    report = _import(org, agent, text)

    assert report.errors == [
        RowError(
            5,
            "Unknown kind 'toaster'; use one of "
            + ", ".join(
                [
                    "server",
                    "virtual_machine",
                    "workstation",
                    "laptop",
                    "mobile",
                    "network_device",
                    "firewall",
                    "storage",
                    "printer",
                    "application",
                    "database",
                    "website",
                    "cloud_resource",
                    "service",
                    "license",
                    "other",
                ]
            )
            + ".",
        )
    ]


def test_blank_lines_are_skipped_but_counted(org, agent):
    report = _import(org, agent, "name,kind\n\nok,server\n\nbad,toaster\n")

    assert [e.line for e in report.errors] == [5]


def test_unknown_column_is_reported_on_the_header_line(org, agent):
    report = _import(org, agent, "name,colour\nx,red\n")

    assert report.errors[0].line == 1
    assert "Unknown column 'colour'" in report.errors[0].message


def test_file_without_a_name_column_is_not_an_asset_list(org, agent):
    report = _import(org, agent, "hello world\nthis is prose\n")

    assert report.errors[0].line == 1
    assert "name" in report.errors[0].message


def test_binary_data_is_reported_as_not_utf8(org, agent):
    report = _import(org, agent, b"name,kind\nok,server\n\xff\xfe\x00bad\n")

    assert report.errors == [RowError(3, "The file is not UTF-8 text; save it as CSV (UTF-8).")]


@pytest.mark.parametrize(
    "data", [b"name,description\nok,fine\nweb,a\x00b\n", "name\nok\nweb\x00\n"]
)
def test_nul_character_is_reported_on_its_line(org, agent, data):
    report = _import(org, agent, data)

    assert report.errors == [
        RowError(3, "The file contains a NUL character; save it as CSV (UTF-8).")
    ]
    assert not Asset.objects.filter(organization=org).exists()


@pytest.mark.parametrize("cell", ['"\\u0000"', '"\\ud800"'])
def test_attribute_escape_that_cannot_be_stored_is_kept_as_typed(cell):
    assert parse_attribute(cell) == cell


def test_utf8_byte_order_mark_is_accepted(org, agent):
    report = _import(org, agent, "\ufeffname,kind\ncafé,server\n".encode())

    assert report.ok, report.errors
    assert Asset.objects.filter(name="café").exists()


def test_unreadable_csv_is_reported_with_its_line(org, agent):
    report = _import(org, agent, 'name,kind\nok,server\n"unterminated,server\n')

    assert not report.ok
    assert report.errors[0].line == 3


def test_empty_file_is_reported(org, agent):
    report = _import(org, agent, "")

    assert report.errors == [
        RowError(1, "The file is empty; the first line must name the columns.")
    ]


def test_too_many_rows_are_refused(org, agent, monkeypatch):
    monkeypatch.setattr("buttress.assets.csvio.MAX_ROWS", 3)
    text = "name\n" + "".join(f"a{n}\n" for n in range(5))

    report = _import(org, agent, text)

    assert report.errors[0].line == 5
    assert "more than 3 rows" in report.errors[0].message
    assert MAX_ROWS == 50_000


def test_dry_run_reports_counts_and_writes_nothing(org, agent):
    services.create_asset(org, actor=agent, name="db", description="old")
    audit_before = AuditEntry.objects.count()

    report = _import(org, agent, "name,description\ndb,new\nweb,\n", dry_run=True)

    assert report.ok
    assert report.dry_run
    assert (report.created, report.updated) == (1, 1)
    assert Asset.objects.count() == 1
    assert Asset.objects.get().description == "old"
    assert AuditEntry.objects.count() == audit_before


def test_import_records_one_summary_entry_and_one_entry_per_asset(org, agent):
    report = _import(org, agent, "name\na\nb\n")

    assert report.ok
    assert AuditEntry.objects.filter(action="create", object_type="assets.asset").count() == 2
    summary = AuditEntry.objects.get(action="import")
    assert summary.organization == org
    assert "2 assets created" in summary.note


def test_export_then_import_changes_nothing(org, agent):
    site = SiteFactory.create(organization=org, name="DC, East")
    team = TeamFactory.create(name="Ops")
    db = services.create_asset(
        org,
        actor=agent,
        name="db",
        kind="database",
        site=site,
        owner_team=team,
        tags=["sql", "prod"],
        description='Line one\nline "two"',
        attributes={"port": 5432, "ha": True, "ver": "15", "note": "x;y", "none": None, "f": 1.5},
    )
    web = services.create_asset(org, actor=agent, name="web", attributes={"os": "Debian"})
    hv = services.create_asset(org, actor=agent, name="hv", status="maintenance")
    services.relate_assets(web, actor=agent, kind="depends_on", target=db)
    services.relate_assets(db, actor=agent, kind="runs_on", target=hv)
    services.relate_assets(web, actor=agent, kind="connects_to", target=hv)
    before = {
        a.pk: (
            a.name,
            a.kind,
            a.site_id,
            a.owner_team_id,
            a.description,
            a.attributes,
            a.updated_at,
        )
        for a in Asset.objects.all()
    }
    relations_before = set(AssetRelation.objects.values_list("pk", "source", "kind", "target"))
    audit_before = AuditEntry.objects.count()

    text = "".join(export_assets(Asset.objects.for_org(org)))
    report = _import(org, agent, text)

    assert report.ok, report.errors
    assert (report.created, report.updated) == (0, 0)
    after = {
        a.pk: (
            a.name,
            a.kind,
            a.site_id,
            a.owner_team_id,
            a.description,
            a.attributes,
            a.updated_at,
        )
        for a in Asset.objects.all()
    }
    assert after == before
    assert set(AssetRelation.objects.values_list("pk", "source", "kind", "target")) == (
        relations_before
    )
    assert AuditEntry.objects.exclude(action="import").count() == audit_before


def test_export_lists_relations_and_attributes_as_columns(org, agent):
    a = services.create_asset(org, actor=agent, name="a", attributes={"serial": "S1"})
    b = services.create_asset(org, actor=agent, name="b")
    services.relate_assets(a, actor=agent, kind="runs_on", target=b)

    lines = "".join(export_assets(Asset.objects.for_org(org))).splitlines()

    assert lines[0] == HEADER + ",attr:serial"
    assert lines[1] == "a,server,,medium,active,,,,,b,,S1"
    assert lines[2] == "b,server,,medium,active,,,,,,,"


def test_export_streams_in_chunks(org, agent, monkeypatch):
    monkeypatch.setattr("buttress.assets.csvio.EXPORT_CHUNK", 2)
    for n in range(5):
        AssetFactory.create(organization=org, name=f"a{n}")

    chunks = list(export_assets(Asset.objects.for_org(org)))

    assert len(chunks) == 3
    assert "".join(chunks).count("\n") == 6


@pytest.mark.slow
def test_ten_thousand_rows_import_in_a_bounded_number_of_queries(
    org, agent, django_assert_max_num_queries
):
    # Speed is the benchmark's to show; here the import must batch its writes rather than
    # spend a few queries per row.
    rows = "".join(
        f"host{n:05d},server,,medium,active,,tag{n % 10},,{'host00000' if n else ''},,\n"
        for n in range(10_000)
    )

    with django_assert_max_num_queries(2_000):
        report = _import(org, agent, HEADER + "\n" + rows)

    assert report.ok, report.errors[:3]
    assert report.created == 10_000
