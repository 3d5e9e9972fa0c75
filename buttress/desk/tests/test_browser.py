"""End to end in the system Chromium: the agent queue (filters, keyboard shortcuts, a bulk
action) and the ticket page's in-place edits."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from buttress.accounts.models import User
from buttress.desk import services
from buttress.desk.models import Reply, Ticket
from buttress.tenancy.models import Organization
from buttress.testing.browser import mark_page, page, sign_in, still_same_page
from buttress.testing.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["page"]  # the fixture, used by name


def _row(page: Page, ticket: Ticket) -> Locator:
    return page.locator("[data-ticket-row]").filter(has_text=ticket.reference)


def test_agent_filters_the_queue_moves_with_the_keyboard_and_assigns_in_bulk(
    transactional_db: None, live_server: LiveServer, page: Page, org: Organization, agent: User
) -> None:
    # given three open tickets, two of them tagged network
    printer = services.create_ticket(org, actor=None, subject="Printer jammed", tags=["printer"])
    vpn = services.create_ticket(org, actor=None, subject="VPN drops", tags=["network"])
    wifi = services.create_ticket(org, actor=None, subject="Wi-Fi is slow", tags=["network"])
    base = live_server.url
    sign_in(page, base, agent.email)
    page.goto(base + reverse("desk:list"))
    rows = page.locator("[data-ticket-row]")
    expect(rows).to_have_count(3)

    # when the agent types a tag into the filters, the table updates in place
    mark_page(page)
    page.get_by_label("Tag").fill("network")
    expect(rows).to_have_count(2)
    expect(_row(page, printer)).to_have_count(0)
    assert still_same_page(page)
    expect(page).to_have_url(re.compile(r"tag=network"))

    # the address keeps the filter: loaded afresh, the queue shows the same two tickets
    page.reload()
    expect(rows).to_have_count(2)

    # j and k move the selection, x ticks the selected ticket
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("is-selected"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("is-selected"))
    expect(rows.nth(0)).not_to_have_class(re.compile("is-selected"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("is-selected"))
    page.keyboard.press("x")
    expect(rows.nth(0).get_by_role("checkbox")).to_be_checked()
    expect(rows.nth(1).get_by_role("checkbox")).not_to_be_checked()
    picked = rows.nth(0).get_by_role("link").inner_text()

    # and the bulk action assigns only the ticked ticket to the agent
    page.get_by_label("Action", exact=True).select_option(label="Assign to me")
    page.get_by_role("group", name="With the ticked tickets").get_by_role(
        "button", name="Apply"
    ).click()
    expect(page.get_by_role("status")).to_contain_text(f"Updated 1 ticket(s): {picked}")
    assigned = {t.reference: t.assignee_id for t in Ticket.objects.filter(pk__in=[vpn.pk, wifi.pk])}
    assert assigned[picked] == agent.pk
    assert list(assigned.values()).count(None) == 1
    expect(rows).to_have_count(2)  # the filter survived the bulk action

    # o opens the selected ticket
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = rows.nth(1).get_by_role("link").inner_text()
    page.keyboard.press("o")
    expect(page.get_by_role("heading", level=1)).to_contain_text(second)


def test_agent_edits_fields_in_place_and_sends_a_public_reply(
    transactional_db: None, live_server: LiveServer, page: Page, org: Organization, agent: User
) -> None:
    # given a ticket of medium impact and urgency
    contact = ContactFactory.create(organization=org, name="Dana Requester")
    ticket = services.create_ticket(org, actor=None, subject="Mail is down", requester=contact)
    assert ticket.priority == "P3"
    base = live_server.url
    sign_in(page, base, agent.email)
    page.goto(base + reverse("desk:detail", kwargs={"pk": ticket.pk}))
    mark_page(page)

    # when the agent raises impact and urgency in the side panel
    fields = page.get_by_role("region", name="Edit fields")
    fields.get_by_label("Impact").select_option(label="High")
    fields.get_by_label("Urgency").select_option(label="High")
    fields.get_by_role("button", name="Save").click()

    # then the page shows the new priority and the change on the timeline, without a reload
    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text("P1 (impact high, urgency high)")
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("Impact: medium → high")
    assert still_same_page(page)
    ticket.refresh_from_db()
    assert ticket.priority == "P1"

    # and a public reply appears on the timeline in place too
    reply = page.get_by_role("region", name="Reply")
    reply.get_by_label("Message").fill("We are restarting the mail server now.")
    reply.get_by_role("button", name="Send").click()
    expect(timeline).to_contain_text("We are restarting the mail server now.")
    assert still_same_page(page)
    sent = Reply.objects.get(ticket=ticket)
    assert not sent.is_internal
    assert sent.author_id == agent.pk
