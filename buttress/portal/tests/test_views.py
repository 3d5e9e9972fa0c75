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
