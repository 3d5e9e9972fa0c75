"""Macros: canned replies that also set fields, managed by admins, applied by agents."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.desk import services as desk
from buttress.desk.models import EventKind, Macro
from buttress.desk.services import macros
from buttress.testing.factories import ContactFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(org, agent):
    requester = ContactFactory.create(organization=org, name="Dana")
    return desk.create_ticket(org, actor=agent, subject="VPN drops", requester=requester)


def test_applying_sets_fields_replies_and_moves_the_status(ticket, agent):
    team = TeamFactory.create(name="Network")
    macro = macros.create_macro(
        actor=None,
        organization=None,
        name="Ask for logs",
        body="Hello {requester}, please send the logs for {ticket}. {agent}",
        changes={
            "status": "waiting_on_customer",
            "team": team.pk,
            "assignee": "me",
            "add_tags": ["vpn", "Logs"],
            "urgency": "high",
        },
    )

    done = macros.apply_macro(ticket, macro, actor=agent)

    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee, ticket.status) == (team, agent, "waiting_on_customer")
    assert ticket.tags == ["logs", "vpn"]
    assert ticket.priority == "P2"  # medium impact x high urgency
    reply = ticket.replies.get()
    assert (
        reply.body
        == f"Hello Dana, please send the logs for {ticket.reference}. {agent.display_name}"
    )
    assert not reply.is_internal
    assert done == ["set assignee, tags, team, urgency", "replied", "status waiting_on_customer"]
    assert ticket.first_response_at is not None


def test_a_failing_step_changes_nothing(ticket, agent):
    desk.transition(ticket, "resolved", actor=agent)
    macro = macros.create_macro(
        actor=None, organization=None, name="Bad", body="x", changes={"status": "in_progress"}
    )

    with pytest.raises(ValidationError):
        macros.apply_macro(ticket, macro, actor=agent)

    assert not ticket.replies.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "sleeping"},
        {"team": 999999},
        {"assignee": "someone"},
        {"colour": "red"},
        {"add_tags": "vpn"},
        "status=open",
    ],
)
def test_bad_changes_are_refused_naming_the_field(changes):
    with pytest.raises(ValidationError) as excinfo:
        macros.create_macro(actor=None, organization=None, name="Bad", body="x", changes=changes)

    assert "changes" in excinfo.value.message_dict


def test_an_empty_macro_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        macros.create_macro(actor=None, organization=None, name="Nothing")

    assert "body" in excinfo.value.message_dict


def test_another_organisations_macro_is_not_offered(ticket, agent, other_org):
    theirs = macros.create_macro(actor=None, organization=other_org, name="Theirs", body="x")

    with pytest.raises(ValidationError):
        macros.apply_macro(ticket, theirs, actor=agent)


def test_ticket_page_applies_a_macro(client: Client, ticket, agent):
    macro = macros.create_macro(
        actor=None, organization=None, name="Internal", body="Checked the tunnel", internal=True
    )
    client.force_login(agent)

    page = client.get(reverse("desk:detail", args=[ticket.pk])).text
    response = client.post(reverse("desk:macro", args=[ticket.pk]), {"macro": macro.pk})
    bad = client.post(reverse("desk:macro", args=[ticket.pk]), {"macro": "99999"})

    assert "Apply macro" in page
    assert response.status_code == 302
    assert ticket.events.filter(kind=EventKind.NOTE_ADDED).count() == 1
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.text


def test_admin_manages_macros_in_the_ui(client: Client, admin_user, agent):
    team = TeamFactory.create(name="Desk")
    client.force_login(admin_user)

    created = client.post(
        reverse("desk:macro_create"),
        {
            "organization": "",
            "name": "Close politely",
            "body": "Closing this, {requester}.",
            "status": "resolved",
            "team": str(team.pk),
            "add_tags": "closed-by-macro",
            "is_active": "on",
        },
    )
    macro = Macro.objects.get()
    edited = client.post(
        reverse("desk:macro_edit", args=[macro.pk]),
        {"name": "Close politely", "body": "Bye", "status": "closed", "is_active": "on"},
    )
    macro.refresh_from_db()
    client.force_login(agent)
    refused = client.get(reverse("desk:macro_create"))

    assert created.status_code == 302
    assert edited.status_code == 302
    assert macro.changes == {"status": "closed"}
    assert macro.body == "Bye"
    assert refused.status_code == 403
    assert "Close politely" in client.get(reverse("desk:macro_list")).text


def test_api_creates_and_applies_a_macro(admin_user, agent, ticket):
    created = api_as(admin_user).post(
        "/macros", {"name": "Ack", "body": "We are on it.", "changes": {"status": "in_progress"}}
    )
    refused = api_as(agent, raise_errors=False).post("/macros", {"name": "Mine", "body": "x"})
    bad = api_as(admin_user, raise_errors=False).post(
        "/macros", {"name": "Bad", "changes": {"status": "asleep"}}
    )

    applied = api_as(agent).post(
        f"/tickets/{ticket.pk}/apply-macro", {"macro": created.json()["id"]}
    )
    missing = api_as(agent, raise_errors=False).post(
        f"/tickets/{ticket.pk}/apply-macro", {"macro": 999999}
    )

    assert created.status_code == 201
    assert refused.status_code == 403
    assert bad.status_code in (400, 422)
    assert "changes" in bad.text
    assert applied.json()["done"] == ["replied", "status in_progress"]
    assert missing.status_code in (400, 422)
    assert "macro" in missing.text
