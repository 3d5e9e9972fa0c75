"""Uptime read from state changes, with maintenance left out on request, in a bounded number
of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buttress.assets.models import Asset
from buttress.maintenance.models import MaintenanceWindow
from buttress.monitoring import history, uptime
from buttress.monitoring.models import Monitor, StateChange

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _monitor(org, name="Web", **fields):
    monitor = Monitor.objects.create(organization=org, name=name, kind="http", **fields)
    Monitor.objects.filter(pk=monitor.pk).update(created_at=T0 - timedelta(days=60))
    monitor.refresh_from_db()
    return monitor


def _change(monitor, at, old, new):
    StateChange.objects.create(
        organization=monitor.organization, monitor=monitor, at=at, from_status=old, to_status=new
    )


def test_uptime_counts_the_status_each_instant_had(org):
    monitor = _monitor(org, status="up")
    _change(monitor, T0 - HOUR, "unknown", "up")
    _change(monitor, T0 + 6 * HOUR, "up", "down")
    _change(monitor, T0 + 9 * HOUR, "down", "up")

    measured = history.uptime(monitor, start=T0, end=T0 + 24 * HOUR)

    assert measured.up == 21 * HOUR
    assert measured.down == 3 * HOUR
    assert measured.fraction == 21 / 24


def test_status_before_the_first_change_in_the_period_is_its_from_status(org):
    monitor = _monitor(org, status="up")
    _change(monitor, T0 + 12 * HOUR, "down", "up")

    measured = history.uptime(monitor, start=T0, end=T0 + 24 * HOUR)

    assert (measured.up, measured.down) == (12 * HOUR, 12 * HOUR)


def test_a_monitor_without_changes_counts_its_current_status(org):
    monitor = _monitor(org, status="down")

    assert history.uptime(monitor, start=T0, end=T0 + HOUR).fraction == 0.0


def test_time_before_the_monitor_existed_is_not_counted(org):
    monitor = _monitor(org, status="up")
    Monitor.objects.filter(pk=monitor.pk).update(created_at=T0 + 20 * HOUR)
    monitor.refresh_from_db()

    measured = history.uptime(monitor, start=T0, end=T0 + 24 * HOUR)

    assert (measured.up, measured.down) == (4 * HOUR, timedelta(0))


def test_maintenance_of_the_monitor_or_its_asset_is_left_out_on_request(org):
    asset = Asset.objects.create(organization=org, name="db1")
    monitor = _monitor(org, status="down", asset=asset)
    on_monitor = MaintenanceWindow.objects.create(
        organization=org,
        name="Patch",
        starts_at=T0,
        duration=2 * HOUR,
        edges_done_until=T0,
        last_end_at=T0 + 2 * HOUR,
    )
    on_monitor.monitors.add(monitor)
    on_asset = MaintenanceWindow.objects.create(
        organization=org,
        name="Nightly",
        starts_at=T0 + HOUR,
        duration=2 * HOUR,
        rrule="FREQ=DAILY;COUNT=3",
        edges_done_until=T0,
    )
    on_asset.assets.add(asset)

    raw = history.uptime(monitor, start=T0, end=T0 + 24 * HOUR)
    planned = history.uptime(monitor, start=T0, end=T0 + 24 * HOUR, exclude_maintenance=True)

    assert raw.down == 24 * HOUR
    assert planned.down == 21 * HOUR


def test_another_organisations_window_is_not_maintenance(org, other_org):
    monitor = _monitor(org, status="down")
    window = MaintenanceWindow.objects.create(
        organization=other_org, name="Other", starts_at=T0, duration=HOUR, edges_done_until=T0
    )
    window.monitors.add(monitor)

    measured = history.uptime(monitor, start=T0, end=T0 + 2 * HOUR, exclude_maintenance=True)

    assert measured.down == 2 * HOUR


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (T0, T0, "end"),
        (T0.replace(tzinfo=None), T0 + HOUR, "start"),
        (T0, T0 + timedelta(days=4000), "end"),
    ],
)
def test_bad_periods_are_refused_naming_the_field(org, start, end, field):
    monitor = _monitor(org)

    with pytest.raises(ValidationError) as caught:
        history.uptime(monitor, start=start, end=end)

    assert field in caught.value.message_dict


def _query_count(ids, *, exclude_maintenance):
    with CaptureQueriesContext(connection) as queries:
        history.uptime_by_period(ids, uptime.days(T0, 30), exclude_maintenance=exclude_maintenance)
    return len(queries)


@pytest.mark.parametrize("exclude_maintenance", [False, True])
def test_query_count_does_not_grow_with_monitors(org, exclude_maintenance):
    asset = Asset.objects.create(organization=org, name="db1")
    few = [_monitor(org, f"m{i}", asset=asset) for i in range(2)]
    many = few + [_monitor(org, f"n{i}", asset=asset) for i in range(20)]
    window = MaintenanceWindow.objects.create(
        organization=org, name="W", starts_at=T0 - 3 * HOUR, duration=HOUR, edges_done_until=T0
    )
    window.monitors.add(*many)
    window.assets.add(asset)
    for monitor in many:
        _change(monitor, T0 - 5 * HOUR, "up", "down")
        _change(monitor, T0 - 4 * HOUR, "down", "up")

    baseline = _query_count([m.pk for m in few], exclude_maintenance=exclude_maintenance)

    assert _query_count([m.pk for m in many], exclude_maintenance=exclude_maintenance) == baseline
