"""Creating, changing and deleting windows, and the questions other apps ask of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from buttress.audit.models import AuditEntry
from buttress.maintenance import services
from buttress.maintenance.models import CoverageChange, MaintenanceWindow
from buttress.monitoring import services as monitoring
from buttress.testing.factories import AssetFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


def window(org: Any, **fields: Any) -> MaintenanceWindow:
    values: dict[str, Any] = {
        "name": "Patch night",
        "starts_at": T0 + HOUR,
        "duration": 2 * HOUR,
    }
    values.update(fields)
    with time_machine.travel(T0, tick=False):
        return services.create_window(org, actor=None, **values)


def test_create_records_an_audit_entry_and_arms_the_timer(org, agent):
    asset = AssetFactory.create(organization=org)

    with time_machine.travel(T0, tick=False):
        made = services.create_window(
            org,
            actor=agent,
            name="Patch night",
            starts_at=T0 + HOUR,
            duration=2 * HOUR,
            timezone="Europe/Berlin",
            rrule="rrule:freq=weekly;count=3",
            assets=[asset.pk],
        )

    assert made.rrule == "FREQ=WEEKLY;COUNT=3"
    assert made.edge_due_at == T0 + HOUR
    assert made.last_end_at == T0 + timedelta(days=14) + 3 * HOUR
    assert made.created_by == agent
    assert list(made.assets.all()) == [asset]
    entry = AuditEntry.objects.get(object_type="maintenance.maintenancewindow")
    assert entry.action == "create"
    assert entry.organization == org


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rrule": "FREQ=NEVER"}, "rrule"),
        ({"rrule": "FREQ=DAILY;UNTIL=20200101T000000Z"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=TU"}, "starts_at"),
        ({"rrule": "FREQ=DAILY;UNTIL=99991231", "timezone": "America/New_York"}, "rrule"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"duration": timedelta(seconds=30)}, "duration"),
        ({"duration": timedelta(days=32)}, "duration"),
        ({"starts_at": datetime(2026, 3, 2, 10, 0)}, "starts_at"),  # noqa: DTZ001 - naive on purpose
        ({"starts_at": datetime(9999, 12, 31, 23, 0, tzinfo=UTC)}, "starts_at"),
        ({"name": "  "}, "name"),
        ({"reason": "a\x00b"}, "reason"),
    ],
)
def test_bad_input_is_refused_naming_the_field(org, fields, field):
    with pytest.raises(ValidationError) as caught:
        window(org, **fields)

    assert field in caught.value.message_dict
    assert not MaintenanceWindow.objects.exists()


def test_assets_and_monitors_must_belong_to_the_organisation(org):
    stranger = OrganizationFactory.create()
    foreign_asset = AssetFactory.create(organization=stranger)
    foreign_monitor = monitoring.create_monitor(
        stranger, actor=None, name="backup", kind="heartbeat"
    )

    with pytest.raises(ValidationError) as caught:
        window(org, assets=[foreign_asset.pk])
    assert "assets" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        window(org, monitors=[foreign_monitor.pk])
    assert "monitors" in caught.value.message_dict


def test_active_for_assets_follows_the_occurrences_and_the_effect(org):
    asset, other = AssetFactory.create(organization=org), AssetFactory.create(organization=org)
    window(org, assets=[asset], rrule="FREQ=DAILY;COUNT=2", suppress_alerts=False)

    assert services.active_for_assets([asset.pk], T0 + HOUR)
    assert services.active_for_assets([other.pk, asset.pk], T0 + 2 * HOUR)
    assert not services.active_for_assets([asset.pk], T0 + 3 * HOUR)  # the end is outside
    assert services.active_for_assets([asset.pk], T0 + 25 * HOUR)
    assert not services.active_for_assets([asset.pk], T0 + 49 * HOUR)  # after the last one
    assert not services.active_for_assets([other.pk], T0 + HOUR)
    assert not services.active_for_assets([], T0 + HOUR)
    assert not services.active_for_assets([asset.pk], T0 + HOUR, effect="suppress_alerts")


def test_intervals_are_merged_clipped_and_sorted(org):
    asset, other = AssetFactory.create(organization=org), AssetFactory.create(organization=org)
    window(org, assets=[asset], rrule="FREQ=DAILY;COUNT=3")
    window(org, assets=[other], starts_at=T0 + 2 * HOUR, duration=3 * HOUR)
    window(org, assets=[asset], starts_at=T0 + 2 * HOUR, pause_sla=False)

    found = services.intervals_for_assets(
        [asset.pk, other.pk], T0 + 90 * timedelta(minutes=1), T0 + 26 * HOUR
    )

    assert found == [
        (T0 + 90 * timedelta(minutes=1), T0 + 5 * HOUR),
        (T0 + 25 * HOUR, T0 + 26 * HOUR),
    ]
    assert services.intervals_for_assets([asset.pk], T0 + 5 * HOUR, T0 + 5 * HOUR) == []


def test_active_for_monitor_counts_windows_naming_it_or_its_asset(org):
    asset = AssetFactory.create(organization=org)
    by_asset = monitoring.create_monitor(org, actor=None, name="web", kind="heartbeat", asset=asset)
    named = monitoring.create_monitor(org, actor=None, name="db", kind="heartbeat")
    bystander = monitoring.create_monitor(org, actor=None, name="dns", kind="heartbeat")
    window(org, assets=[asset], monitors=[named])
    window(org, monitors=[bystander], suppress_alerts=False)

    assert services.active_for_monitor(by_asset.pk, T0 + HOUR)
    assert services.active_for_monitor(named.pk, T0 + 2 * HOUR)
    assert not services.active_for_monitor(named.pk, T0 + 3 * HOUR)
    assert not services.active_for_monitor(bystander.pk, T0 + HOUR)
    assert not services.active_for_monitor(999_999, T0 + HOUR)


def test_an_edit_that_changes_what_is_covered_now_queues_a_coverage_change(org):
    asset, other = AssetFactory.create(organization=org), AssetFactory.create(organization=org)
    made = window(org, assets=[asset], starts_at=T0 - HOUR)
    assert CoverageChange.objects.get().asset_ids == [asset.pk]  # on since before it was made
    CoverageChange.objects.all().delete()

    with time_machine.travel(T0, tick=False):
        services.update_window(made, actor=None, assets=[other.pk], name="Kernel updates")

    change = CoverageChange.objects.get()
    assert sorted(change.asset_ids) == sorted([asset.pk, other.pk])
    assert (change.at, change.due_at) == (T0, T0)
    made.refresh_from_db()
    assert made.name == "Kernel updates"
    assert made.edge_due_at == T0 + HOUR
    assert AuditEntry.objects.filter(action="update").count() == 1


def test_an_edit_in_the_future_only_moves_the_timer(org):
    asset = AssetFactory.create(organization=org)
    made = window(org, assets=[asset])

    with time_machine.travel(T0, tick=False):
        services.update_window(made, actor=None, starts_at=T0 + 5 * HOUR)

    made.refresh_from_db()
    assert made.edge_due_at == T0 + 5 * HOUR
    assert not CoverageChange.objects.exists()


def test_deleting_a_window_that_is_on_releases_its_assets(org):
    asset = AssetFactory.create(organization=org)
    made = window(org, assets=[asset])

    with time_machine.travel(T0 + HOUR, tick=False):
        services.delete_window(made, actor=None)

    assert not MaintenanceWindow.objects.exists()
    assert CoverageChange.objects.get().asset_ids == [asset.pk]
    assert AuditEntry.objects.filter(action="delete").count() == 1


def test_organisation_cannot_be_changed(org):
    made = window(org)

    with pytest.raises(ValidationError) as caught:
        services.update_window(made, actor=None, organization=OrganizationFactory.create())

    assert "organization" in caught.value.message_dict
