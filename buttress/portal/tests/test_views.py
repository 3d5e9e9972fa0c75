"""The customer portal: own requests only, opening one, the public conversation, targets."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from buttress.desk import services as desk
from buttress.desk.models import Source, Ticket
from buttress.sla import services as sla
from buttress.sla.tests.helpers import make_calendar, make_policy, targets
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db

ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


@pytest.fixture
def customer(org: Any, end_user: Any) -> Any:
    end_user.contact = ContactFactory.create(organization=org, email=end_user.email)
    end_user.save()
    return end_user


@pytest.fixture
def signed_in(client: Client, customer: Any) -> Client:
    client.force_login(customer)
    return client


def _mine(org: Any, agent: Any, customer: Any, subject: str = "Laptop will not boot") -> Ticket:
    return desk.create_ticket(org, actor=agent, subject=subject, requester=customer.contact)


def test_customer_opens_a_request_that_reaches_the_desk(signed_in: Client, customer, org):
    response = signed_in.post(
        reverse("portal:create"),
        {
            "type": "service_request",
            "subject": "New starter needs a laptop",
            "description": "Starts Monday.",
            "urgency": "high",
        },
    )

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:detail", args=[ticket.pk])
    assert (ticket.organization, ticket.requester, ticket.source) == (
        org,
        customer.contact,
        Source.PORTAL,
    )
    assert (ticket.type, ticket.urgency) == ("service_request", "high")


def test_an_empty_request_is_a_form_error(signed_in: Client):
    response = signed_in.post(
        reverse("portal:create"), {"type": "incident", "subject": "  ", "urgency": "low"}
    )

    assert response.status_code == 200
    assert "This field is required." in response.text
    assert not Ticket.objects.exists()


def test_the_list_holds_only_the_customers_own_requests(signed_in: Client, org, agent, customer):
    _mine(org, agent, customer)
    desk.create_ticket(org, actor=agent, subject="Someone else's printer")

    page = signed_in.get(reverse("portal:list")).text

    assert "Laptop will not boot" in page
    assert "Someone else" not in page


def test_the_ticket_page_shows_public_replies_and_targets_but_no_notes(
    signed_in: Client, org, agent, customer
):
    policy = make_policy(
        calendar=make_calendar(name="Always", timezone="UTC", weekly=ALWAYS),
        targets=targets(first=30, resolution=240),
    )
    sla.create_rule(actor=None, policy=policy)
    ticket = _mine(org, agent, customer)
    desk.add_reply(ticket, actor=agent, body="Have you tried the power button?")
    desk.add_reply(ticket, actor=agent, body="Customer is grumpy", internal=True)

    page = signed_in.get(reverse("portal:detail", args=[ticket.pk])).text

    assert "Have you tried the power button?" in page
    assert "grumpy" not in page
    assert "Our targets for this request" in page
    assert "First response" in page
    assert "due by" in page  # the resolution target


def test_the_customer_replies_and_the_next_response_clock_starts(
    signed_in: Client, org, agent, customer
):
    policy = make_policy(calendar=make_calendar(name="Always", timezone="UTC", weekly=ALWAYS))
    sla.create_rule(actor=None, policy=policy)
    ticket = _mine(org, agent, customer)
    desk.add_reply(ticket, actor=agent, body="Which model?")

    response = signed_in.post(reverse("portal:detail", args=[ticket.pk]), {"body": "A T14"})
    empty = signed_in.post(reverse("portal:detail", args=[ticket.pk]), {"body": " "})

    assert response.status_code == 302
    assert ticket.replies.filter(body="A T14", author=customer).exists()
    assert ticket.sla_clocks.filter(kind="next_response", state="running").exists()
    assert empty.status_code == 200
    assert "This field is required." in empty.text


def test_another_customers_ticket_is_not_found(client: Client, org, other_org, agent, customer):
    other = desk.create_ticket(other_org, actor=agent, subject="Elsewhere")
    client.force_login(customer)

    assert client.get(reverse("portal:detail", args=[other.pk])).status_code == 404
    assert client.post(reverse("portal:detail", args=[other.pk]), {"body": "x"}).status_code == 404


def test_staff_are_sent_to_the_workspace(client: Client, agent):
    client.force_login(agent)

    assert client.get(reverse("portal:list")).status_code == 403


def test_the_customer_closes_their_request_with_a_closing_comment(
    signed_in: Client, org, agent, customer
):
    ticket = _mine(org, agent, customer)
    desk.transition(ticket, "in_progress", actor=agent)
    page = signed_in.get(reverse("portal:detail", args=[ticket.pk])).text
    assert "Close this request" in page

    response = signed_in.post(
        reverse("portal:close", args=[ticket.pk]), {"comment": "It boots again, thanks"}
    )

    ticket.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:detail", args=[ticket.pk])
    assert ticket.status == "closed"
    assert ticket.resolved_at is not None
    assert ticket.closed_at is not None
    reply = ticket.replies.get(author=customer)
    assert (reply.body, reply.is_internal) == ("It boots again, thanks", False)
    moves = [
        (e.detail["to"], e.actor_id)
        for e in ticket.events.filter(kind="status_changed", actor=customer).order_by("id")
    ]
    assert moves == [("resolved", customer.pk), ("closed", customer.pk)]
    after = signed_in.get(reverse("portal:detail", args=[ticket.pk])).text
    assert "Close this request" not in after
    assert "Rate the help you got" in after


def test_a_resolved_request_is_only_closed(signed_in: Client, org, agent, customer):
    ticket = _mine(org, agent, customer)
    desk.transition(ticket, "resolved", actor=agent)

    signed_in.post(reverse("portal:close", args=[ticket.pk]), {})

    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert not ticket.replies.exists()
    closed = ticket.events.get(kind="status_changed", actor=customer)
    assert (closed.detail["from"], closed.detail["to"]) == ("resolved", "closed")


def test_closing_a_closed_request_is_a_form_error(signed_in: Client, org, agent, customer):
    ticket = _mine(org, agent, customer)
    desk.transition(ticket, "closed", actor=agent)

    response = signed_in.post(reverse("portal:close", args=[ticket.pk]), {"comment": "done"})

    assert response.status_code == 200
    assert "already closed" in response.text
    assert not ticket.replies.exists()


def test_closing_is_post_only(signed_in: Client, org, agent, customer):
    ticket = _mine(org, agent, customer)

    assert signed_in.get(reverse("portal:close", args=[ticket.pk])).status_code == 405


def test_the_org_admin_closes_a_colleagues_request(client: Client, org, agent, org_admin):
    ticket = desk.create_ticket(org, actor=agent, subject="Shared drive")
    client.force_login(org_admin)

    response = client.post(reverse("portal:close", args=[ticket.pk]), {})

    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_another_organisations_request_cannot_be_closed(
    client: Client, org, other_org, agent, customer
):
    other = desk.create_ticket(other_org, actor=agent, subject="Elsewhere")
    colleague = desk.create_ticket(org, actor=agent, subject="A colleague's request")
    client.force_login(customer)

    assert client.post(reverse("portal:close", args=[other.pk]), {}).status_code == 404
    assert client.post(reverse("portal:close", args=[colleague.pk]), {}).status_code == 404
    assert Ticket.objects.filter(status="new").count() == 2


def test_staff_close_in_the_workspace_not_the_portal(client: Client, org, agent):
    ticket = desk.create_ticket(org, actor=agent, subject="Printer")
    client.force_login(agent)

    assert client.post(reverse("portal:close", args=[ticket.pk]), {}).status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == "new"
