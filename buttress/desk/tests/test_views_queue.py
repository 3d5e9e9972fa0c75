from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buttress.desk import services
from buttress.desk.models import Status, Ticket
from buttress.testing.factories import ContactFactory, TeamFactory
from buttress.web.orgfilter import SESSION_KEY

pytestmark = pytest.mark.django_db


def _refs(response) -> list[str]:
    return [t.reference for t in response.context["page"].items]


def _ticket(org, subject="Printer jammed", **kwargs) -> Ticket:
    return services.create_ticket(org, actor=None, subject=subject, **kwargs)


def test_queue_shows_open_tickets_of_every_visible_organisation_by_default(
    client: Client, agent, org, other_org
):
    mine = _ticket(org)
    theirs = _ticket(other_org, "VPN down")
    done = _ticket(org, "Old")
    services.transition(done, Status.RESOLVED, actor=None)
    client.force_login(agent)

    response = client.get(reverse("desk:list"))

    assert response.status_code == 200
    assert set(_refs(response)) == {mine.reference, theirs.reference}
    assert b"Keyboard shortcuts" in response.content
    assert b"desk/queue.js" in response.content


def test_queue_defaults_to_the_header_organisation_and_all_overrides_it(
    client: Client, agent, org, other_org
):
    mine = _ticket(org)
    theirs = _ticket(other_org)
    client.force_login(agent)
    session = client.session
    session[SESSION_KEY] = org.pk
    session.save()

    assert _refs(client.get(reverse("desk:list"))) == [mine.reference]
    assert set(_refs(client.get(reverse("desk:list"), {"org": ""}))) == {
        mine.reference,
        theirs.reference,
    }


def test_queue_filters_by_status_priority_type_team_source_tag_and_text(client: Client, agent, org):
    team = TeamFactory.create()
    wanted = _ticket(
        org,
        "Mail server down",
        impact="high",
        urgency="high",
        type="incident",
        team=team,
        source="phone",
        tags=["Mail"],
    )
    _ticket(org, "Mail quota", impact="high", urgency="high", source="phone", tags=["mail"])
    _ticket(org, "Mail server slow", team=team, source="phone", tags=["mail"])
    client.force_login(agent)

    response = client.get(
        reverse("desk:list"),
        {
            "q": "server",
            "status": "new",
            "priority": "P1",
            "type": "incident",
            "team": str(team.pk),
            "source": "phone",
            "tag": "MAIL",
        },
    )

    assert _refs(response) == [wanted.reference]


def test_queue_finds_a_ticket_by_its_number(client: Client, agent, org):
    wanted = _ticket(org)
    _ticket(org)
    client.force_login(agent)

    assert _refs(client.get(reverse("desk:list"), {"q": wanted.reference.lower()})) == [
        wanted.reference
    ]
    assert _refs(client.get(reverse("desk:list"), {"q": str(wanted.number)})) == [wanted.reference]


def test_queue_filters_by_assignee_me_and_unassigned(client: Client, agent, admin_user, org):
    mine = _ticket(org, assignee=agent)
    _ticket(org, assignee=admin_user)
    nobody = _ticket(org)
    client.force_login(agent)

    assert _refs(client.get(reverse("desk:list"), {"assignee": "me"})) == [mine.reference]
    assert _refs(client.get(reverse("desk:list"), {"assignee": "none"})) == [nobody.reference]
    assert len(_refs(client.get(reverse("desk:list"), {"assignee": admin_user.pk}))) == 1


def test_queue_status_any_includes_resolved_tickets(client: Client, agent, org):
    done = _ticket(org)
    services.transition(done, Status.CLOSED, actor=None)
    client.force_login(agent)

    assert _refs(client.get(reverse("desk:list"), {"status": ""})) == [done.reference]
    assert _refs(client.get(reverse("desk:list"), {"status": "closed"})) == [done.reference]


def test_queue_sorts_by_priority_then_recent(client: Client, agent, org):
    low = _ticket(org, impact="low", urgency="low")
    high = _ticket(org, impact="high", urgency="high")
    client.force_login(agent)

    response = client.get(reverse("desk:list"), {"sort": "priority"})

    assert _refs(response) == [high.reference, low.reference]


def test_queue_pages_with_a_cursor_and_keeps_filters(client: Client, agent, org, monkeypatch):
    monkeypatch.setattr("buttress.desk.views.queue.PAGE_SIZE", 2)
    tickets = [_ticket(org, f"t{i}") for i in range(5)]
    client.force_login(agent)

    first = client.get(reverse("desk:list"), {"sort": "created"})
    cursor = first.context["page"].next_cursor
    second = client.get(reverse("desk:list"), {"sort": "created", "cursor": cursor})

    assert _refs(first) == [tickets[4].reference, tickets[3].reference]
    assert _refs(second) == [tickets[2].reference, tickets[1].reference]


def test_queue_answers_a_fragment_to_htmx(client: Client, agent, org):
    _ticket(org)
    client.force_login(agent)

    response = client.get(reverse("desk:list"), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'id="ticket-results"' in response.content
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "garbage"},
        {"org": "99999999999999999999999"},
        {"team": "-1"},
        {"assignee": "abc"},
        {"status": "nonsense", "priority": "P9", "sort": "x"},
        {"q": "a\x00b", "tag": "\x00"},
        {"q": "T-99999999999999999999"},
    ],
)
def test_queue_bad_filters_are_reported_not_errors(client: Client, agent, org, params):
    _ticket(org)
    client.force_login(agent)

    response = client.get(reverse("desk:list"), params)

    assert response.status_code == 200


def test_queue_query_count_does_not_grow_with_the_page(client: Client, agent, org):
    team = TeamFactory.create()
    contact = ContactFactory.create(organization=org)
    client.force_login(agent)
    _ticket(org, requester=contact, team=team, assignee=agent, tags=["a"])
    client.get(reverse("desk:list"))  # warm the session and caches
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("desk:list"))
    for i in range(15):
        _ticket(org, f"more {i}", requester=contact, team=team, assignee=agent, tags=["b"])
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("desk:list"))

    assert len(response.context["page"].items) == 16
    assert len(many) == len(one)


def test_queue_is_forbidden_to_customers(client: Client, org_admin, end_user):
    for user in (org_admin, end_user):
        client.force_login(user)
        assert client.get(reverse("desk:list")).status_code == 403


def test_queue_needs_sign_in(client: Client):
    response = client.get(reverse("desk:list"))

    assert response.status_code == 302


def test_viewer_reads_the_queue_without_bulk_actions(client: Client, viewer, org):
    _ticket(org)
    client.force_login(viewer)

    response = client.get(reverse("desk:list"))

    assert response.status_code == 200
    assert b"bulk-action" not in response.content
    assert b"New ticket" not in response.content


def test_navigation_shows_tickets_to_staff_only(client: Client, agent, org_admin):
    client.force_login(agent)
    assert b'href="/tickets/"' in client.get(reverse("web:home")).content
    client.force_login(org_admin)
    assert b'href="/tickets/"' not in client.get(reverse("web:home")).content
