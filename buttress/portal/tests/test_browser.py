"""End to end in the system Chromium: a customer opens a request through a catalogue form,
reads the answer, replies, and never sees the internal note."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from buttress.accounts.models import User
from buttress.catalogue import services as catalogue
from buttress.desk import services as desk
from buttress.desk.models import Reply, Ticket
from buttress.tenancy.models import Organization
from buttress.testing.browser import page, sign_in
from buttress.testing.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["page"]  # the fixture, used by name


@pytest.fixture
def customer(org: Organization, end_user: User) -> User:
    end_user.contact = ContactFactory.create(organization=org, email=end_user.email)
    end_user.save()
    return end_user


def test_customer_requests_through_the_catalogue_replies_and_never_sees_internal_notes(
    transactional_db: None, live_server: LiveServer, page: Page, customer: User, agent: User
) -> None:
    # given an end user with a contact and a catalogue item with a required question
    org = customer.organization
    assert org is not None
    end_user = customer
    item = catalogue.create_item(actor=agent, organization=org, name="New laptop")
    catalogue.add_field(item, actor=agent, key="model", label="Which model", required=True)
    base = live_server.url
    sign_in(page, base, end_user.email)

    # when they open the catalogue and send the form, first without the required answer
    page.goto(base + reverse("catalogue_portal:list"))
    page.get_by_role("link", name="New laptop").click()
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator(".field--error")).to_contain_text("Which model")
    page.get_by_label("Which model").fill("ThinkPad X1")
    page.get_by_role("button", name="Send the request").click()

    # then the request is open, theirs, and shows what they answered
    expect(page.get_by_role("status")).to_contain_text("is open.")
    ticket = Ticket.objects.get(organization=org)
    assert ticket.requester_id == end_user.contact_id
    expect(page.get_by_role("main")).to_contain_text("ThinkPad X1")

    # when the desk answers publicly and adds an internal note
    desk.add_reply(ticket, actor=agent, body="Ordered, it arrives on Tuesday.")
    desk.add_reply(ticket, actor=agent, body="Check the budget code first.", internal=True)
    page.reload()

    # then the customer reads the answer but not the note
    conversation = page.get_by_role("region", name="Conversation")
    expect(conversation).to_contain_text("Ordered, it arrives on Tuesday.")
    expect(page.get_by_role("main")).not_to_contain_text("Check the budget code first.")

    # and their reply joins the conversation
    page.get_by_label("Your reply").fill("Thank you!")
    page.get_by_role("region", name="Reply").get_by_role("button", name="Send").click()
    expect(conversation).to_contain_text("Thank you!")
    expect(page.get_by_role("main")).not_to_contain_text("Check the budget code first.")
    mine = Reply.objects.get(ticket=ticket, body="Thank you!")
    assert mine.author_id == end_user.pk
    assert not mine.is_internal
