"""Rebuilding clocks from history, and the simulator's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from buttress.cli import cli
from buttress.desk import services as desk
from buttress.desk.models import EventKind, Level, Ticket
from buttress.sla import services
from buttress.sla.models import SlaClock
from buttress.sla.replay import Step, replay, simulate
from buttress.sla.tests.helpers import make_calendar, make_policy, targets

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)
ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


@pytest.fixture
def policy() -> Any:
    calendar = make_calendar(name="Always", timezone="UTC", weekly=ALWAYS)
    made = make_policy(
        calendar=calendar,
        targets=targets(first=30, resolution=600),
        warnings=[{"percent": 50, "action": "notify"}],
    )
    services.create_rule(actor=None, policy=made)
    return made


def _state(ticket: Ticket) -> list[tuple[Any, ...]]:
    return [
        (c.kind, c.cycle, c.is_current, c.state, c.elapsed, c.breached_at, c.met_at, c.due_at)
        for c in SlaClock.objects.filter(ticket=ticket).order_by("kind", "cycle")
    ]


def _busy_ticket(org: Any, agent: Any, end_user: Any) -> Ticket:
    ticket = desk.create_ticket(
        org, actor=agent, subject="Busy", at=T0, watchers=[end_user], requester=None
    )
    desk.add_reply(ticket, actor=agent, body="Hello", at=T0 + 20 * MIN)
    desk.add_reply(ticket, actor=end_user, body="Still broken", at=T0 + 40 * MIN)
    desk.transition(ticket, "waiting_on_customer", actor=agent, at=T0 + 50 * MIN)
    desk.add_reply(ticket, actor=end_user, body="Here you go", at=T0 + 90 * MIN)
    desk.transition(ticket, "in_progress", actor=agent, at=T0 + 95 * MIN)
    desk.update_ticket(ticket, actor=agent, impact=Level.HIGH, at=T0 + 100 * MIN)
    desk.add_reply(ticket, actor=agent, body="Working on it", at=T0 + 130 * MIN)
    desk.transition(ticket, "resolved", actor=agent, at=T0 + 200 * MIN)
    desk.transition(ticket, "open", actor=agent, at=T0 + 300 * MIN)
    return ticket


def test_replay_under_unchanged_configuration_changes_nothing(org, agent, end_user, policy):
    ticket = _busy_ticket(org, agent, end_user)
    before = _state(ticket)

    report = replay(at=T0 + 310 * MIN)

    assert report.examined == 1
    assert report.changed_tickets == 0, report.changes
    assert _state(ticket) == before


def test_replay_applies_an_edited_policy_to_history(org, agent, end_user, policy):
    ticket = desk.create_ticket(org, actor=agent, subject="Slow", at=T0)
    desk.add_reply(ticket, actor=agent, body="Hello", at=T0 + 10 * MIN)
    services.update_policy(policy, actor=None, targets=targets(first=30, resolution=60))

    dry = replay(at=T0 + 120 * MIN, dry_run=True)

    assert (dry.changed_tickets, dry.newly_breached) == (1, 1)
    assert SlaClock.objects.get(ticket=ticket, kind="resolution").breached_at is None

    report = replay(at=T0 + 120 * MIN)

    resolution = SlaClock.objects.get(ticket=ticket, kind="resolution")
    assert resolution.breached_at == T0 + 60 * MIN
    assert resolution.target == 60 * MIN
    assert resolution.due_at is None
    assert report.changes[0].ticket == ticket.reference
    assert ticket.events.filter(kind=EventKind.SLA_REPLAYED).count() == 1
    ticket.refresh_from_db()
    assert ticket.sla_state == "breached"
    # Done again, nothing is left to change.
    assert replay(at=T0 + 120 * MIN).changed_tickets == 0


def test_replay_skips_done_tickets_unless_asked(org, agent, policy):
    ticket = desk.create_ticket(org, actor=agent, subject="Done", at=T0)
    desk.transition(ticket, "resolved", actor=agent, at=T0 + 90 * MIN)
    services.update_policy(policy, actor=None, targets=targets(first=30, resolution=60))

    assert replay(at=T0 + 100 * MIN).examined == 0
    report = replay(at=T0 + 100 * MIN, since=T0 - timedelta(days=1))

    assert report.examined == 1
    assert SlaClock.objects.get(ticket=ticket, kind="resolution").breached_at == T0 + 60 * MIN


def test_simulator_answers_due_and_warning_instants(policy):
    machine, projection = simulate(
        policy,
        created_at=T0,
        priority="P3",
        steps=[
            Step(T0 + 10 * MIN, "agent_reply"),
            Step(T0 + 60 * MIN, "status", "waiting_on_customer"),
            Step(T0 + 180 * MIN, "status", "open"),
            Step(T0 + 200 * MIN, "priority", "P1"),
        ],
    )

    by_clock = {p.clock: p for p in projection}
    resolution = by_clock["resolution"]
    assert by_clock["first_response"].met_at == T0 + 10 * MIN
    assert resolution.elapsed == 60 * MIN + 20 * MIN
    # 600 min target, 80 used by the change at 200: due 520 min later; the 50% warning at
    # 300 min used, 220 min after the change.
    assert resolution.due_at == T0 + 200 * MIN + 520 * MIN
    assert resolution.warnings == [("*:50%", T0 + 200 * MIN + 220 * MIN)]
    kinds = [t.kind for t in machine.transitions]
    assert kinds.count("paused") == 1
    assert kinds.count("resumed") == 1


def test_cli_replay_reports_and_refuses_bad_input(org, agent, policy):
    desk.create_ticket(org, actor=agent, subject="Any", at=T0)
    runner = CliRunner()

    ok = runner.invoke(cli, ["sla", "replay", "--dry-run", "--org", org.slug])
    bad_date = runner.invoke(cli, ["sla", "replay", "--since", "yesterday"])
    bad_org = runner.invoke(cli, ["sla", "replay", "--org", "nobody"])

    assert ok.exit_code == 0, ok.output
    assert "Dry run: 1 ticket(s) examined" in ok.output
    assert bad_date.exit_code != 0
    assert "YYYY-MM-DD" in bad_date.output
    assert bad_org.exit_code != 0
    assert "no organisation" in bad_org.output
