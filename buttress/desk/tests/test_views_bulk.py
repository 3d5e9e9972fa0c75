from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from buttress.desk import services
from buttress.desk.models import Status, Ticket
from buttress.testing.factories import TeamFactory

pytestmark = pytest.mark.django_db


def _ticket(org, subject="Printer jammed", **kwargs) -> Ticket:
    return services.create_ticket(org, actor=None, subject=subject, **kwargs)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_bulk_assigns_the_ticked_tickets_to_me(client: Client, agent, org):
    first, second, untouched = _ticket(org), _ticket(org), _ticket(org)
    client.force_login(agent)

    response = client.post(
        reverse("desk:bulk"),
        {"ticket": [first.pk, second.pk], "action": "assign_me", "next": "?status=new"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("desk:list") + "?status=new"
    assert set(Ticket.objects.filter(assignee=agent)) == {first, second}
    untouched.refresh_from_db()
    assert untouched.assignee is None


def test_bulk_sets_team_and_assignee(client: Client, agent, admin_user, org):
    ticket = _ticket(org)
    team = TeamFactory.create()
    client.force_login(agent)

    client.post(reverse("desk:bulk"), {"ticket": [ticket.pk], "action": "team", "team": team.pk})
    client.post(
        reverse("desk:bulk"),
        {"ticket": [ticket.pk], "action": "assign", "assignee": admin_user.pk},
    )

    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee) == (team, admin_user)


def test_bulk_status_reports_each_ticket_that_cannot_move(client: Client, agent, org):
    movable = _ticket(org)
    closed = _ticket(org)
    services.transition(closed, Status.CLOSED, actor=None)
    client.force_login(agent)

    response = client.post(
        reverse("desk:bulk"),
        {"ticket": [movable.pk, closed.pk], "action": "status", "status": "resolved"},
    )

    movable.refresh_from_db()
    closed.refresh_from_db()
    assert (movable.status, closed.status) == (Status.RESOLVED, Status.CLOSED)
    text = " ".join(_messages(response))
    assert f"{closed.reference}: A closed ticket cannot move to resolved" in text
    assert f"Updated 1 ticket(s): {movable.reference}" in text


def test_bulk_skips_tickets_of_organisations_the_agent_cannot_see(
    client: Client, agent, org, other_org
):
    theirs = _ticket(other_org)
    agent.limited_to.add(org)
    client.force_login(agent)

    response = client.post(reverse("desk:bulk"), {"ticket": [theirs.pk], "action": "assign_me"})

    theirs.refresh_from_db()
    assert theirs.assignee is None
    assert "1 selected ticket(s) were not found." in _messages(response)


@pytest.mark.parametrize(
    "data",
    [
        {"action": "assign_me"},
        {"ticket": ["abc"], "action": "assign_me"},
        {"ticket": ["99999999999999999999999"], "action": "assign_me"},
        {"ticket": ["1"], "action": "explode"},
        {"ticket": ["1"], "action": "status"},
        {"ticket": ["1"], "action": "assign", "assignee": "99999999999999999999"},
        {"ticket": ["1\x00"], "action": "assign_me", "next": "//evil.example/"},
    ],
)
def test_bulk_bad_input_is_a_message_not_an_error(client: Client, agent, org, data):
    _ticket(org)
    client.force_login(agent)

    response = client.post(reverse("desk:bulk"), data)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("desk:list"))
    assert _messages(response)


def test_bulk_is_forbidden_to_viewers_and_customers(client: Client, viewer, org_admin, org):
    ticket = _ticket(org)
    for user in (viewer, org_admin):
        client.force_login(user)
        response = client.post(reverse("desk:bulk"), {"ticket": [ticket.pk], "action": "assign_me"})
        assert response.status_code == 403


def test_bulk_answers_only_post(client: Client, agent):
    client.force_login(agent)

    assert client.get(reverse("desk:bulk")).status_code == 405
