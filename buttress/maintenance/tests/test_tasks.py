"""The scheduler drives windows' starts and ends, and SLA clocks pause and resume with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from buttress.desk import services as desk
from buttress.desk.models import Ticket
from buttress.maintenance import services
from buttress.maintenance.models import CoverageChange, MaintenanceWindow
from buttress.maintenance.tasks import MAX_EDGES_PER_RUN, apply_coverage_change, handle_edges
from buttress.scheduler.claims import claim_due
from buttress.scheduler.registry import get_timer
from buttress.sla import clocks
from buttress.sla import services as sla
from buttress.sla.models import SlaClock
from buttress.sla.tests.helpers import make_calendar, make_policy, targets
from buttress.testing.factories import AssetFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)
ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


def sla_policy() -> None:
    calendar = make_calendar(name="Always", timezone="UTC", weekly=ALWAYS)
    sla.create_rule(
        actor=None, policy=make_policy(calendar=calendar, targets=targets(resolution=240))
    )


def resolution(ticket: Ticket) -> SlaClock:
    # The clock policies pause in maintenance by default (with next response).
    return SlaClock.objects.get(ticket=ticket, kind="resolution", is_current=True)


def sweep(at: datetime) -> int:
    """One scheduler pass of the maintenance timers at ``at``, running what it claimed."""
    ran = 0
    with time_machine.travel(at, tick=False):
        for name, model, field, task in (
            ("maintenance.edge", MaintenanceWindow, "edge_due_at", handle_edges),
            ("maintenance.coverage", CoverageChange, "due_at", apply_coverage_change),
        ):
            due = list(model.objects.filter(**{f"{field}__lte": at}).values_list("pk", flat=True))
            claim_due(get_timer(name), at=at)
            for pk in due:
                claim = getattr(model.objects.get(pk=pk), field)
                ran += bool(task.call(pk, claim.isoformat()))
    return ran


def make_window(org: Any, **fields: Any) -> MaintenanceWindow:
    values: dict[str, Any] = {"name": "Patch", "starts_at": T0 + 10 * MIN, "duration": 20 * MIN}
    values.update(fields)
    with time_machine.travel(T0, tick=False):
        return services.create_window(org, actor=None, **values)


def test_sla_clock_pauses_at_the_start_and_resumes_at_the_end(org, agent):
    sla_policy()
    asset = AssetFactory.create(organization=org)
    ticket = desk.create_ticket(org, actor=agent, subject="Disk full", at=T0, assets=[asset])
    window = make_window(org, assets=[asset])
    assert resolution(ticket).due_at == T0 + 240 * MIN

    assert sweep(T0 + 10 * MIN) == 1

    paused = resolution(ticket)
    assert "maintenance" in paused.pause_reasons
    assert paused.due_at is None
    window.refresh_from_db()
    assert window.edge_due_at == T0 + 30 * MIN

    assert sweep(T0 + 30 * MIN) == 1

    resumed = resolution(ticket)
    assert resumed.pause_reasons == []
    assert resumed.due_at == T0 + 260 * MIN
    window.refresh_from_db()
    assert window.edge_due_at is None


def test_a_late_sweep_handles_each_edge_at_its_own_instant(org, agent):
    sla_policy()
    asset = AssetFactory.create(organization=org)
    ticket = desk.create_ticket(org, actor=agent, subject="Disk full", at=T0, assets=[asset])
    make_window(org, assets=[asset])

    sweep(T0 + 45 * MIN)  # the scheduler was down during the whole window

    assert resolution(ticket).due_at == T0 + 260 * MIN


def test_a_window_without_pause_sla_leaves_clocks_alone_but_keeps_its_timer(org, agent):
    sla_policy()
    asset = AssetFactory.create(organization=org)
    ticket = desk.create_ticket(org, actor=agent, subject="Disk full", at=T0, assets=[asset])
    window = make_window(org, assets=[asset], pause_sla=False, rrule="FREQ=DAILY;COUNT=2")

    sweep(T0 + 10 * MIN)

    assert resolution(ticket).pause_reasons == []
    window.refresh_from_db()
    assert window.edge_due_at == T0 + 30 * MIN


def test_a_stale_delivery_does_nothing(org):
    window = make_window(org)
    with time_machine.travel(T0 + 10 * MIN, tick=False):
        claim_due(get_timer("maintenance.edge"), at=T0 + 10 * MIN)
        window.refresh_from_db()
        claim = window.edge_due_at
        assert claim is not None
        assert handle_edges.call(window.pk, claim.isoformat()) == 1

        assert handle_edges.call(window.pk, claim.isoformat()) == 0


def test_catching_up_goes_in_bounded_steps(org):
    window = make_window(org, rrule="FREQ=HOURLY", duration=20 * MIN)
    at = T0 + 100 * timedelta(hours=1)

    with time_machine.travel(at, tick=False):
        claim_due(get_timer("maintenance.edge"), at=at)
        window.refresh_from_db()
        assert window.edge_due_at is not None
        handled = handle_edges.call(window.pk, window.edge_due_at.isoformat())

    window.refresh_from_db()
    assert handled == MAX_EDGES_PER_RUN
    assert window.edge_due_at is not None
    assert window.edge_due_at <= at  # due again at once


def test_an_edit_now_resyncs_the_clocks_through_a_coverage_change(org, agent):
    sla_policy()
    asset = AssetFactory.create(organization=org)
    ticket = desk.create_ticket(org, actor=agent, subject="Disk full", at=T0, assets=[asset])
    window = make_window(org, starts_at=T0 - 10 * MIN, duration=60 * MIN)
    assert resolution(ticket).pause_reasons == []

    with time_machine.travel(T0 + 5 * MIN, tick=False):
        services.update_window(window, actor=None, assets=[asset.pk])
    sweep(T0 + 5 * MIN)

    assert "maintenance" in resolution(ticket).pause_reasons
    assert not CoverageChange.objects.exists()

    with time_machine.travel(T0 + 15 * MIN, tick=False):
        services.delete_window(window, actor=None)
    sweep(T0 + 15 * MIN)

    resumed = resolution(ticket)
    assert resumed.pause_reasons == []
    assert resumed.due_at == T0 + 250 * MIN


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], datetime]]:
    """What the SLA side is told, recorded instead of acted on."""
    seen: list[tuple[list[int], datetime]] = []

    def record(*, asset_ids: list[int], at: datetime) -> int:
        seen.append((sorted(asset_ids), at))
        return 0

    monkeypatch.setattr(clocks, "assets_maintenance_changed", record, raising=False)
    return seen


def test_each_edge_is_reported_at_its_own_instant_with_the_window_assets(org, calls):
    first, second = AssetFactory.create(organization=org), AssetFactory.create(organization=org)
    make_window(org, assets=[first, second], rrule="FREQ=DAILY;COUNT=2")
    ids = sorted([first.pk, second.pk])

    sweep(T0 + 10 * MIN)
    sweep(T0 + 2 * timedelta(days=1))  # late: the second day's start and end, and the first end

    assert calls == [
        (ids, T0 + 10 * MIN),
        (ids, T0 + 30 * MIN),
        (ids, T0 + timedelta(days=1) + 10 * MIN),
        (ids, T0 + timedelta(days=1) + 30 * MIN),
    ]
    assert MaintenanceWindow.objects.get().edge_due_at is None


def test_windows_without_pause_sla_or_assets_report_nothing(org, calls):
    asset = AssetFactory.create(organization=org)
    make_window(org, assets=[asset], pause_sla=False)
    make_window(org)

    assert sweep(T0 + timedelta(hours=1)) == 2
    assert calls == []


def test_a_coverage_change_is_reported_once_at_the_edit_instant(org, calls):
    asset = AssetFactory.create(organization=org)
    window = make_window(org, starts_at=T0 - 10 * MIN, duration=60 * MIN)

    with time_machine.travel(T0 + 5 * MIN, tick=False):
        services.update_window(window, actor=None, assets=[asset.pk])
    sweep(T0 + 6 * MIN)
    sweep(T0 + 7 * MIN)

    assert calls == [([asset.pk], T0 + 5 * MIN)]
