"""The simulator and the compliance report, in the API and the UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.desk import services as desk
from buttress.sla import reports, services
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
        targets=targets(first=30, resolution=240),
        warnings=[{"percent": 75, "action": "notify", "clock": "resolution"}],
    )
    services.create_rule(actor=None, policy=made)
    return made


def test_api_simulates_a_history(agent, policy):
    response = api_as(agent).post(
        "/sla/simulate",
        {
            "policy": policy.pk,
            "created_at": "2026-03-02T09:00:00+00:00",
            "priority": "P3",
            "history": [
                {"at": "2026-03-02T09:10:00+00:00", "reply": "agent"},
                {"at": "2026-03-02T10:00:00+00:00", "status": "waiting_on_customer"},
                {"at": "2026-03-02T12:00:00+00:00", "status": "open"},
            ],
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    clocks = {c["clock"]: c for c in body["clocks"]}
    # 60 minutes used before the pause; 180 left from 12:00.
    assert clocks["resolution"]["due_at"].startswith("2026-03-02T15:00:00")
    assert clocks["resolution"]["warnings"] == [
        {"step": "resolution:75%", "at": "2026-03-02T14:00:00Z"}
    ]
    assert clocks["first_response"]["state"] == "met"
    assert [t["kind"] for t in body["transitions"]].count("paused") == 1


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([{"at": "2026-03-01T09:00:00+00:00", "reply": "agent"}], "before the ticket"),
        ([{"at": "2026-03-02T10:00:00+00:00"}], "one of status"),
        ([{"at": "2026-03-02T10:00:00+00:00", "status": "asleep"}], "not a ticket status"),
        ([{"at": "2026-03-02T10:00:00+00:00", "reply": "robot"}], "agent or customer"),
        ([{"at": "2026-03-02T10:00:00+00:00", "priority": "P9"}], "P1, P2"),
    ],
)
def test_api_simulator_refuses_bad_history_naming_it(agent, policy, history, message):
    response = api_as(agent, raise_errors=False).post(
        "/sla/simulate",
        {"policy": policy.pk, "created_at": "2026-03-02T09:00:00+00:00", "history": history},
    )

    assert response.status_code in (400, 422)
    assert "history" in response.text
    assert message in response.text


def test_api_simulator_answers_404_for_an_unknown_policy(agent):
    response = api_as(agent, raise_errors=False).post(
        "/sla/simulate", {"policy": 999999, "created_at": "2026-03-02T09:00:00+00:00"}
    )

    assert response.status_code == 404


def test_simulator_page_reads_times_in_the_calendar_zone(client: Client, agent, policy):
    client.force_login(agent)

    page = client.get(
        reverse("sla:simulator"),
        {
            "policy": policy.pk,
            "created_at": "2026-03-02 09:00",
            "priority": "P3",
            "history": "2026-03-02 09:10 reply agent\n2026-03-02 10:00 priority P1",
        },
    ).text

    assert "Clocks at the end of the history" in page
    assert "2026-03-02 13:00" in page  # resolution due: 240 minutes after 09:00
    bad = client.get(
        reverse("sla:simulator"),
        {"policy": policy.pk, "created_at": "yesterday", "priority": "P3", "history": ""},
    ).text
    assert "not an ISO 8601 date and time" in bad


def _decided_history(org: Any, agent: Any) -> None:
    quick = desk.create_ticket(org, actor=agent, subject="Quick", at=T0)
    desk.add_reply(quick, actor=agent, body="Done", at=T0 + 10 * MIN)
    desk.transition(quick, "resolved", actor=agent, at=T0 + 100 * MIN)
    slow = desk.create_ticket(org, actor=agent, subject="Slow", at=T0)
    desk.add_reply(slow, actor=agent, body="Late hello", at=T0 + 50 * MIN)
    desk.transition(slow, "resolved", actor=agent, at=T0 + 300 * MIN)


def test_compliance_counts_outcomes_and_business_times(org, agent, policy):
    _decided_history(org, agent)

    [row] = reports.compliance(start=T0, end=T0 + timedelta(days=1))

    first = row.clocks["first_response"]
    resolution = row.clocks["resolution"]
    assert (first.on_time, first.breached, first.compliance) == (1, 1, 50.0)
    assert (resolution.on_time, resolution.breached) == (1, 1)
    assert first.median == 10 * MIN
    assert first.p90 == 50 * MIN
    assert resolution.median == 100 * MIN
    assert row.compliance == 50.0


def test_api_and_page_show_the_report(client: Client, org, agent, policy):
    _decided_history(org, agent)

    body = (
        api_as(agent)
        .get("/sla/report", start="2026-03-01T00:00:00Z", end="2026-03-03T00:00:00Z")
        .json()
    )
    client.force_login(agent)
    page = client.get(reverse("sla:report"), {"start": "2026-03-01", "end": "2026-03-02"}).text
    bad = api_as(agent, raise_errors=False).get(
        "/sla/report", start="2026-03-03T00:00:00Z", end="2026-03-01T00:00:00Z"
    )

    assert body[0]["organization"] == org.pk
    clocks = {c["clock"]: c for c in body[0]["clocks"]}
    assert clocks["first_response"]["median_minutes"] == 10.0
    assert "50.0%" in page
    assert bad.status_code in (400, 422)
    assert "end" in bad.text


def test_report_leaves_out_organisations_the_user_cannot_see(org, other_org, agent, policy):
    limited = api_as(agent)
    _decided_history(other_org, agent)
    agent.limited_to.set([org])

    body = limited.get("/sla/report", start="2026-03-01T00:00:00Z", end="2026-03-03T00:00:00Z")

    assert body.json() == []
