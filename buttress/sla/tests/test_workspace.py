"""Clocks where people see them: the queue's SLA column, filter and sort, the ticket page, the
API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.desk import services as desk
from buttress.desk.models import Level, Ticket
from buttress.lib.timeutil import now
from buttress.sla import services
from buttress.sla.tests.helpers import make_calendar, make_policy, targets

pytestmark = pytest.mark.django_db

ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


@pytest.fixture
def policy() -> Any:
    calendar = make_calendar(name="Always", timezone="UTC", weekly=ALWAYS)
    tight = targets(first=30, resolution=240)
    tight["P1"] = {"first_response": 10, "next_response": 20, "resolution": 60}
    made = make_policy(calendar=calendar, targets=tight)
    services.create_rule(actor=None, policy=made)
    return made


def _open(org: Any, agent: Any, subject: str, **fields: Any) -> Ticket:
    return desk.create_ticket(org, actor=agent, subject=subject, **fields)


@pytest.fixture
def three(org: Any, agent: Any, policy: Any) -> dict[str, Ticket]:
    started = now() - timedelta(minutes=45)
    late = _open(org, agent, "Late one", at=started)  # first response due 30 min in: breached
    soon = _open(org, agent, "Urgent one", impact=Level.HIGH, urgency=Level.HIGH)
    waiting = _open(org, agent, "Waiting one")
    desk.add_reply(waiting, actor=agent, body="Please send a photo")
    desk.transition(waiting, "waiting_on_customer", actor=agent)
    with time_machine.travel(now(), tick=False):
        # The breach is written by the scheduler; here the ticket is touched instead.
        desk.update_ticket(late, actor=agent, category="printers")
    return {"late": late, "soon": soon, "waiting": waiting}


def test_queue_shows_the_sla_state_and_filters_by_it(client: Client, agent, three):
    client.force_login(agent)

    page = client.get(reverse("desk:list"), {"sla": "breached"}).text

    assert "Late one" in page
    assert "Urgent one" not in page
    assert "late</time>" in page
    paused = client.get(reverse("desk:list"), {"sla": "paused"}).text
    assert "Waiting one" in paused
    assert "Late one" not in paused


def test_queue_sorts_by_due_with_running_clocks_only(client: Client, agent, three):
    client.force_login(agent)

    page = client.get(reverse("desk:list"), {"sort": "sla", "org": ""}).text

    assert page.index("Late one") < page.index("Urgent one")
    assert "Waiting one" not in page


def test_ticket_page_shows_each_clock_and_the_sla_events(client: Client, agent, three):
    client.force_login(agent)

    page = client.get(reverse("desk:detail", args=[three["waiting"].pk])).text

    assert 'id="sla-heading"' in page
    assert "First response" in page
    assert "Resolution" in page
    assert "paused by status" in page
    assert "First response: met after" in page


def test_api_lists_clocks_and_filters_and_sorts_by_sla(agent, three):
    api = api_as(agent)

    clocks = api.get(f"/tickets/{three['soon'].pk}/sla").json()
    listed = api.get("/tickets", sla="breached").json()
    by_due = api.get("/tickets", sort="sla").json()

    assert [c["kind"] for c in clocks] == ["first_response", "resolution"]
    assert clocks[0]["target_minutes"] == 10
    assert 0 < clocks[0]["left_seconds"] <= 600
    assert [t["subject"] for t in listed["items"]] == ["Late one"]
    assert listed["items"][0]["sla_state"] == "breached"
    assert [t["subject"] for t in by_due["items"]] == ["Late one", "Urgent one"]


def test_api_refuses_an_unknown_sla_filter(agent):
    response = api_as(agent).get("/tickets", sla="on_fire")

    assert response.status_code == 422
    assert "sla" in response.text


def test_customers_see_their_targets_but_not_warning_steps(org, agent, end_user, three):
    ticket = three["soon"]
    other = three["late"]
    desk.update_ticket(ticket, actor=agent, watchers=[end_user])

    clocks = api_as(end_user).get(f"/tickets/{ticket.pk}/sla").json()
    hidden = api_as(end_user, raise_errors=False).get(f"/tickets/{other.pk}/sla")

    assert hidden.status_code == 404

    assert {c["kind"] for c in clocks} == {"first_response", "resolution"}
    assert all(c["warnings_fired"] == [] for c in clocks)
