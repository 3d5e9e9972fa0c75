from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buttress.desk import services
from buttress.desk.models import Ticket
from buttress.lib.pagination import encode_cursor
from buttress.testing.factories import ContactFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _refs(response) -> list[str]:
    return [t.reference for t in response.context["page"].items]


def _ticket(org, subject="Printer jammed", **kwargs) -> Ticket:
    return services.create_ticket(org, actor=None, subject=subject, **kwargs)


def _search(client: Client, text: str, **params: str):
    return client.get(reverse("desk:list"), {"q": text, "org": "", **params})


def test_queue_search_finds_words_in_a_public_reply(client: Client, agent, org):
    ticket = _ticket(org)
    _ticket(org, "Unrelated")
    services.add_reply(ticket, actor=agent, body="Replaced the fuser assembly")
    client.force_login(agent)

    response = _search(client, "fuser")

    assert response.status_code == 200
    assert _refs(response) == [ticket.reference]
    assert response.context["searching"] is True


def test_queue_search_finds_words_in_an_internal_note(client: Client, agent, org):
    ticket = _ticket(org)
    services.add_reply(ticket, actor=agent, body="Vendor case zebracorn opened", internal=True)
    client.force_login(agent)

    response = _search(client, "zebracorn")

    assert _refs(response) == [ticket.reference]
    assert b"<mark>zebracorn</mark>" in response.content


def test_queue_search_never_shows_an_organisation_the_agent_cannot_see(
    client: Client, agent, org, other_org
):
    mine = _ticket(org, "Firewall rule missing")
    _ticket(other_org, "Firewall rule missing")
    agent.limited_to.set([org])
    client.force_login(agent)

    response = _search(client, "firewall")

    assert _refs(response) == [mine.reference]


def test_queue_search_combines_with_the_other_filters(client: Client, agent, org):
    team = TeamFactory.create()
    wanted = _ticket(org, "Backup failed", team=team)
    _ticket(org, "Backup failed again")
    client.force_login(agent)

    response = _search(client, "backup", team=str(team.pk))

    assert _refs(response) == [wanted.reference]


def test_queue_search_orders_by_relevance_not_by_the_chosen_sort(client: Client, agent, org):
    in_subject = _ticket(org, "Certificate expired")
    in_description = _ticket(org, "Website down", description="The certificate expired")
    client.force_login(agent)

    response = _search(client, "certificate", sort="created")

    assert _refs(response) == [in_subject.reference, in_description.reference]


def test_queue_search_snippet_escapes_ticket_text(client: Client, agent, org):
    _ticket(org, "Broken page", description="<script>alert(1)</script> kumquat <b>&</b> co")
    client.force_login(agent)

    response = _search(client, "kumquat")

    [hit] = response.context["page"].items
    snippet = str(hit.snippet)
    assert "<mark>kumquat</mark>" in snippet
    assert "<" not in snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<script>" not in response.content.decode()
    assert snippet in response.content.decode()


def test_queue_number_text_still_finds_the_ticket_by_number(client: Client, agent, org):
    ticket = _ticket(org)
    other = _ticket(org, f"About {ticket.number}")
    client.force_login(agent)

    for text in (ticket.reference, f"t{ticket.number}", str(ticket.number)):
        response = _search(client, text)
        assert _refs(response) == [ticket.reference], text
        assert response.context["searching"] is False
    assert other.number != ticket.number


def test_queue_search_pages_by_cursor(client: Client, agent, org, monkeypatch):
    monkeypatch.setattr("buttress.desk.views.queue.PAGE_SIZE", 2)
    tickets = [_ticket(org, f"Laptop slow {i}") for i in range(5)]
    client.force_login(agent)

    seen: list[str] = []
    response = _search(client, "laptop")
    while True:
        seen += _refs(response)
        cursor = response.context["page"].next_cursor
        if cursor is None:
            break
        assert f"cursor={cursor}" in response.content.decode()
        response = _search(client, "laptop", cursor=cursor)

    assert sorted(seen) == sorted(t.reference for t in tickets)
    assert len(seen) == len(set(seen))


def test_queue_search_refuses_a_cursor_of_another_order(client: Client, agent, org):
    ticket = _ticket(org, "Laptop slow")
    client.force_login(agent)
    dated = encode_cursor([ticket.updated_at, ticket.pk])

    response = _search(client, "laptop", cursor=dated)

    assert response.status_code == 200
    assert _refs(response) == [ticket.reference]


@pytest.mark.parametrize(
    "text",
    [
        "a\x00b",
        '"unbalanced',
        "NOT OR AND NEAR(a b) * ^ col:word -x",
        "\ufffd \U0001f600 émoji",
        "x" * 10_000,
        "!!! ???",
        "T-99999999999999999999",
    ],
)
def test_queue_search_odd_text_is_never_an_error(client: Client, agent, org, text):
    _ticket(org)
    client.force_login(agent)

    response = _search(client, text)

    assert response.status_code == 200


def test_queue_search_invalid_utf8_is_never_an_error(client: Client, agent, org):
    _ticket(org)
    client.force_login(agent)

    response = client.get(reverse("desk:list") + "?q=%ED%A0%80+printer%00&org=")

    assert response.status_code == 200


def test_queue_search_query_count_does_not_grow_with_the_page(client: Client, agent, org):
    team = TeamFactory.create()
    contact = ContactFactory.create(organization=org)
    client.force_login(agent)
    _ticket(org, "Scanner offline", requester=contact, team=team, assignee=agent, tags=["a"])
    _search(client, "scanner")  # warm the session and caches
    with CaptureQueriesContext(connection) as one:
        _search(client, "scanner")
    for i in range(15):
        ticket = _ticket(org, f"Other {i}", requester=contact, team=team, assignee=agent)
        services.add_reply(ticket, actor=agent, body="The scanner again", internal=i % 2 == 0)
    with CaptureQueriesContext(connection) as many:
        response = _search(client, "scanner")

    assert len(response.context["page"].items) == 16
    assert len(many) == len(one)


def test_queue_says_when_more_tickets_match_than_are_ranked(
    client: Client, agent, org, monkeypatch
):
    from buttress.desk import search

    for n in range(3):
        _ticket(org, f"Scanner offline {n}")
    monkeypatch.setattr(search, "SEARCH_CANDIDATES", 2)
    client.force_login(agent)

    response = _search(client, "scanner")

    assert len(response.context["page"].items) == 2
    assert b"data-ranked-limit" in response.content
    assert b"best of the newest 2" in response.content


def test_queue_says_nothing_of_a_limit_when_every_match_is_ranked(client: Client, agent, org):
    _ticket(org, "Scanner offline")
    client.force_login(agent)

    response = _search(client, "scanner")

    assert b"data-ranked-limit" not in response.content
