"""Maintenance windows on a ticket's assets pause its clocks when the policy says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from buttress.desk import services as desk
from buttress.desk.models import EventKind
from buttress.maintenance import services as maintenance
from buttress.sla import clocks, services
from buttress.sla.models import SlaClock
from buttress.sla.replay import Step, replay, simulate
from buttress.sla.tests.helpers import make_calendar, make_policy, targets
from buttress.testing.factories import AssetFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


def _policy(**fields: Any) -> Any:
    made = make_policy(
        calendar=make_calendar(name="Always", timezone="UTC", weekly=ALWAYS),
        targets=targets(first=30, resolution=600),
        **fields,
    )
    services.create_rule(actor=None, policy=made)
    return made


def _resolution(ticket: Any) -> SlaClock:
    return SlaClock.objects.get(ticket=ticket, kind="resolution", is_current=True)


def _window(org: Any, asset: Any, **fields: Any) -> Any:
    with time_machine.travel(T0 + 30 * MIN, tick=False):
        return maintenance.create_window(
            org,
            actor=None,
            name="Firmware",
            starts_at=T0 + 60 * MIN,
            duration=timedelta(minutes=120),
            assets=[asset],
            **fields,
        )


def test_a_window_on_the_asset_pauses_and_resumes_the_clock(org, agent):
    _policy()
    asset = AssetFactory.create(organization=org)
    ticket = desk.create_ticket(org, actor=agent, subject="Switch down", at=T0, assets=[asset])
    _window(org, asset)

    with time_machine.travel(T0 + 60 * MIN, tick=False):
        clocks.assets_maintenance_changed(asset_ids=[asset.pk], at=T0 + 60 * MIN)
    paused = _resolution(ticket)
    with time_machine.travel(T0 + 180 * MIN, tick=False):
        clocks.assets_maintenance_changed(asset_ids=[asset.pk], at=T0 + 180 * MIN)
    resumed = _resolution(ticket)

    assert (paused.state, paused.elapsed, paused.pause_reasons) == (
        "paused",
        60 * MIN,
        ["maintenance"],
    )
    assert resumed.state == "running"
    assert resumed.breach_at == T0 + 180 * MIN + 540 * MIN
    # The first response is not among the clocks the policy pauses.
    assert SlaClock.objects.get(ticket=ticket, kind="first_response").state == "running"
    assert ticket.events.filter(kind=EventKind.SLA_PAUSED).count() == 1
    # Replay finds the same from the window's occurrences.
    assert replay(at=T0 + 200 * MIN).changed_tickets == 0


def test_a_policy_that_ignores_maintenance_keeps_counting(org, agent):
    _policy(pause_on_maintenance=False)
    asset = AssetFactory.create(organization=org)
    ticket = desk.create_ticket(org, actor=agent, subject="Switch down", at=T0, assets=[asset])
    _window(org, asset)

    with time_machine.travel(T0 + 60 * MIN, tick=False):
        clocks.assets_maintenance_changed(asset_ids=[asset.pk], at=T0 + 60 * MIN)

    assert _resolution(ticket).state == "running"


def test_linking_an_asset_under_maintenance_pauses_at_once(org, agent):
    _policy()
    asset = AssetFactory.create(organization=org)
    _window(org, asset)
    ticket = desk.create_ticket(org, actor=agent, subject="Printer", at=T0 + 70 * MIN)

    with time_machine.travel(T0 + 90 * MIN, tick=False):
        desk.link_asset(ticket, asset, actor=agent)
        paused = _resolution(ticket)
    with time_machine.travel(T0 + 100 * MIN, tick=False):
        desk.unlink_asset(ticket, asset, actor=agent)

    assert paused.state == "paused"
    assert paused.elapsed == 20 * MIN
    assert _resolution(ticket).state == "running"


def test_the_simulator_takes_maintenance_in_the_history(org):
    policy = _policy()

    _, projection = simulate(
        policy,
        created_at=T0,
        priority="P3",
        steps=[
            Step(T0 + 60 * MIN, "maintenance", "on"),
            Step(T0 + 180 * MIN, "maintenance", "off"),
        ],
    )

    resolution = next(p for p in projection if p.clock == "resolution")
    assert resolution.due_at == T0 + 180 * MIN + 540 * MIN
