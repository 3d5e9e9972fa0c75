import pytest

from buttress.audit import services
from buttress.audit.models import AuditEntry
from buttress.testing.factories import OrganizationFactory, SiteFactory

pytestmark = pytest.mark.django_db


def test_diff_lists_only_changed_fields_including_new_ones():
    assert services.diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {
        "b": [2, 3],
        "c": [None, 4],
    }


def test_snapshot_shows_foreign_keys_by_text(org):
    site = SiteFactory.create(organization=org, name="HQ")

    snap = services.snapshot(site, ["name", "organization", "timezone"])

    assert snap == {"name": "HQ", "organization": "Acme Ltd", "timezone": "Europe/London"}


def test_record_update_stores_before_and_after(org, agent):
    site = SiteFactory.create(organization=org, name="HQ")
    before = services.snapshot(site, ["name", "notes"])
    site.name, site.notes = "Head office", "moved"

    entry = services.record_update(
        site, actor=agent, organization=org, before=before, fields=["name", "notes"]
    )

    assert entry is not None
    assert entry.changes == {"name": ["HQ", "Head office"], "notes": ["", "moved"]}
    assert (entry.actor, entry.actor_label, entry.organization) == (agent, agent.email, org)
    assert entry.object_type == "tenancy.site"


def test_record_update_without_changes_writes_nothing(org, agent):
    site = SiteFactory.create(organization=org)
    before = services.snapshot(site, ["name"])

    assert (
        services.record_update(site, actor=agent, organization=org, before=before, fields=["name"])
        is None
    )
    assert not AuditEntry.objects.exists()


def test_actor_label_survives_without_an_actor(org):
    entry = services.record(org, actor=None, action="update", organization=org, note="system")

    assert (entry.actor, entry.actor_label) == (None, "")


def test_build_returns_an_unsaved_entry(org, agent):
    entry = services.build(org, actor=agent, action="import", organization=org, note="n" * 300)

    assert entry.pk is None
    assert len(entry.note) == 255


def test_values_are_stored_as_json(agent):
    org = OrganizationFactory.create()

    entry = services.record(
        org,
        actor=agent,
        action="update",
        organization=org,
        changes={"when": [None, org.created_at]},
    )

    entry.refresh_from_db()
    assert entry.changes["when"][1] == org.created_at.isoformat()
