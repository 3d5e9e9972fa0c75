from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.desk import services
from buttress.desk.models import EventKind, Reply, Status, Ticket, TimeEntry
from buttress.testing.factories import AssetFactory, ContactFactory, TeamFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def ticket(org) -> Ticket:
    contact = ContactFactory.create(organization=org, name="Dana Requester")
    return services.create_ticket(
        org, actor=None, subject="Printer jammed", requester=contact, tags=["printer"]
    )


def _url(name: str, ticket: Ticket) -> str:
    return reverse(f"desk:{name}", kwargs={"pk": ticket.pk})


def test_ticket_page_shows_header_timeline_and_forms(client: Client, agent, ticket):
    services.add_reply(ticket, actor=agent, body="Have you tried turning it off?")
    services.add_reply(ticket, actor=agent, body="Customer sounds upset", internal=True)
    client.force_login(agent)

    response = client.get(_url("detail", ticket))

    assert response.status_code == 200
    html = response.content.decode()
    assert ticket.reference in html
    assert "Dana Requester" in html
    assert "Have you tried turning it off?" in html
    assert "timeline__item--internal" in html
    assert "Customer sounds upset" in html
    assert html.index("Have you tried") < html.index("Customer sounds upset")
    assert 'value="resolved"' in html
    assert _url("reply", ticket) in html


def test_ticket_page_offers_only_valid_transitions(client: Client, agent, ticket):
    services.transition(ticket, Status.CLOSED, actor=None)
    client.force_login(agent)

    transitions = client.get(_url("detail", ticket)).context["transitions"]

    assert [value for value, _ in transitions] == [Status.OPEN]


def test_public_reply_is_added_and_shown_in_place(client: Client, agent, ticket):
    client.force_login(agent)

    response = client.post(
        _url("reply", ticket), {"body": "On my way", "internal": "0"}, headers=HTMX
    )

    assert response.status_code == 200
    assert b"On my way" in response.content
    assert b"<html" not in response.content
    reply = Reply.objects.get(ticket=ticket)
    assert (reply.body, reply.is_internal, reply.author) == ("On my way", False, agent)
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None


def test_internal_note_without_htmx_redirects_back(client: Client, agent, ticket):
    client.force_login(agent)

    response = client.post(_url("reply", ticket), {"body": "Known issue", "internal": "1"})

    assert response.status_code == 302
    assert response["Location"] == _url("detail", ticket)
    assert Reply.objects.get(ticket=ticket).is_internal


@pytest.mark.parametrize("body", ["", "   ", "\x00"])
def test_empty_reply_is_a_form_error(client: Client, agent, ticket, body):
    client.force_login(agent)

    response = client.post(_url("reply", ticket), {"body": body, "internal": "0"})

    assert response.status_code == 200
    assert response.context["reply_form"].errors
    assert not Reply.objects.exists()


def test_transition_moves_the_ticket(client: Client, agent, ticket):
    client.force_login(agent)

    response = client.post(_url("transition", ticket), {"status": "in_progress"}, headers=HTMX)

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert b"In progress" in response.content


@pytest.mark.parametrize("status", ["new", "bogus", "", "resolved\x00"])
def test_invalid_transition_is_a_form_error(client: Client, agent, ticket, status):
    client.force_login(agent)

    response = client.post(_url("transition", ticket), {"status": status})

    assert response.status_code == 200
    assert response.context["transition_form"].errors
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_field_editing_goes_through_the_service(client: Client, agent, ticket):
    team = TeamFactory.create(name="Field")
    client.force_login(agent)

    response = client.post(
        _url("update", ticket),
        {
            "type": "service_request",
            "impact": "high",
            "urgency": "high",
            "category": "Hardware",
            "team": team.pk,
            "assignee": agent.pk,
            "tags": "Printer, Floor-2",
        },
        headers=HTMX,
    )

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.type, ticket.priority, ticket.category) == ("service_request", "P1", "Hardware")
    assert (ticket.team, ticket.assignee, ticket.tags) == (team, agent, ["floor-2", "printer"])
    assert ticket.events.filter(kind=EventKind.ASSIGNED).count() == 2
    assert b"Field" in response.content


@pytest.mark.parametrize(
    "data",
    [
        {"type": "nope", "impact": "high", "urgency": "high"},
        {
            "type": "incident",
            "impact": "high",
            "urgency": "high",
            "assignee": "99999999999999999999",
        },
        {"type": "incident", "impact": "high", "urgency": "high", "team": "abc"},
        {"type": "incident", "impact": "medium", "urgency": "medium", "tags": "x" * 70},
    ],
)
def test_bad_field_values_are_form_errors(client: Client, agent, ticket, data):
    client.force_login(agent)

    response = client.post(_url("update", ticket), data)

    assert response.status_code == 200
    assert response.context["fields_form"].errors
    ticket.refresh_from_db()
    assert ticket.type == "incident"


def test_assignee_who_cannot_see_the_organisation_is_refused(
    client: Client, agent, ticket, other_org
):
    from buttress.testing.factories import UserFactory

    limited = UserFactory.create(role="agent")
    limited.limited_to.add(other_org)
    client.force_login(agent)

    response = client.post(
        _url("update", ticket),
        {"type": "incident", "impact": "medium", "urgency": "medium", "assignee": limited.pk},
    )

    assert response.context["fields_form"].errors["assignee"]


def test_asset_link_and_unlink_with_other_open_tickets(client: Client, agent, org, ticket):
    asset = AssetFactory.create(organization=org, name="printer-01")
    other = services.create_ticket(org, actor=None, subject="Printer again", assets=[asset])
    client.force_login(agent)

    client.post(_url("asset_link", ticket), {"asset": asset.pk})
    page = client.get(_url("detail", ticket))

    assert list(ticket.assets.all()) == [asset]
    assert page.context["linked_assets"] == [(asset, [other])]
    client.post(_url("asset_unlink", ticket), {"asset": asset.pk})
    assert not ticket.assets.exists()


def test_asset_of_another_organisation_cannot_be_linked(client: Client, agent, ticket, other_org):
    foreign = AssetFactory.create(organization=other_org)
    client.force_login(agent)

    response = client.post(_url("asset_link", ticket), {"asset": foreign.pk})

    assert response.status_code == 200
    assert response.context["asset_form"].errors
    assert not ticket.assets.exists()


@pytest.mark.parametrize("asset", ["", "abc", "99999999999999999999", "0"])
def test_bad_asset_ids_are_form_errors(client: Client, agent, ticket, asset):
    client.force_login(agent)

    for name in ("asset_link", "asset_unlink"):
        assert client.post(_url(name, ticket), {"asset": asset}).status_code == 200


def test_time_is_logged(client: Client, agent, ticket):
    client.force_login(agent)

    response = client.post(
        _url("time", ticket),
        {"minutes": "45", "activity": "onsite", "billable": "on", "note": "Replaced roller"},
        headers=HTMX,
    )

    entry = TimeEntry.objects.get(ticket=ticket)
    assert (entry.minutes, entry.activity, entry.billable, entry.user) == (
        45,
        "onsite",
        True,
        agent,
    )
    assert b"Total: 45 min" in response.content


@pytest.mark.parametrize("minutes", ["0", "1441", "-5", "abc", "99999999999999999999999"])
def test_out_of_range_minutes_are_form_errors(client: Client, agent, ticket, minutes):
    client.force_login(agent)

    response = client.post(_url("time", ticket), {"minutes": minutes, "activity": "remote"})

    assert response.status_code == 200
    assert response.context["time_form"].errors
    assert not TimeEntry.objects.exists()


def test_links_to_parent_related_and_merged_tickets(client: Client, agent, org, ticket):
    parent = services.create_ticket(org, actor=None, subject="Office move")
    duplicate = services.create_ticket(org, actor=None, subject="Printer jammed too")
    services.set_parent(ticket, parent, actor=None)
    services.merge_tickets(duplicate, into=ticket, actor=None)
    client.force_login(agent)

    html = client.get(_url("detail", ticket)).content.decode()
    merged_html = client.get(_url("detail", duplicate)).content.decode()

    assert _url("detail", parent) in html
    assert _url("detail", duplicate) in html
    assert f'Merged into <a href="{_url("detail", ticket)}"' in merged_html


def test_another_organisations_ticket_is_not_found(client: Client, agent, ticket, other_org):
    agent.limited_to.add(other_org)
    client.force_login(agent)

    for name in ("detail", "reply", "transition", "update", "time", "asset_link"):
        assert client.get(_url(name, ticket)).status_code == 404
        assert client.post(_url(name, ticket), {"body": "x"}).status_code == 404


@pytest.mark.parametrize("pk", [0, 99999999999999999999])
def test_unknown_ticket_ids_are_not_found(client: Client, agent, pk):
    client.force_login(agent)

    assert client.get(f"/tickets/{pk}/").status_code == 404
    assert client.post(f"/tickets/{pk}/reply/", {"body": "x"}).status_code == 404


def test_viewer_reads_but_cannot_change(client: Client, viewer, ticket):
    client.force_login(viewer)

    page = client.get(_url("detail", ticket))

    assert page.status_code == 200
    assert _url("reply", ticket).encode() not in page.content
    for name in ("reply", "transition", "update", "time", "asset_link", "asset_unlink"):
        assert client.post(_url(name, ticket), {"body": "x", "status": "open"}).status_code == 403
    assert not Reply.objects.exists()


def test_customers_are_forbidden_in_the_workspace(client: Client, org_admin, end_user, org):
    # Opened by the end user, so both customers may see it (in the portal).
    ticket = services.create_ticket(org, actor=end_user, subject="Mine")
    for user in (org_admin, end_user):
        client.force_login(user)
        assert client.get(_url("detail", ticket)).status_code == 403
        assert client.post(_url("reply", ticket), {"body": "x"}).status_code == 403


def test_action_endpoints_answer_only_post(client: Client, agent, ticket):
    client.force_login(agent)

    assert client.get(_url("reply", ticket)).status_code == 405
    assert client.post(_url("detail", ticket)).status_code == 405


def test_ticket_page_query_count_does_not_grow_with_the_timeline(
    client: Client, agent, org, ticket
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    team = TeamFactory.create()
    services.add_reply(ticket, actor=agent, body="First")
    services.update_ticket(ticket, actor=agent, team=team, assignee=agent)
    client.force_login(agent)
    client.get(_url("detail", ticket))
    with CaptureQueriesContext(connection) as short:
        client.get(_url("detail", ticket))
    for n in range(20):
        services.add_reply(ticket, actor=agent, body=f"Reply {n}", internal=n % 3 == 0)
        services.update_ticket(ticket, actor=agent, assignee=None if n % 2 else agent)

    with CaptureQueriesContext(connection) as long:
        response = client.get(_url("detail", ticket))

    assert response.content.decode().count('class="timeline__item') == len(
        response.context["timeline"]
    )
    assert len(long) == len(short)


def test_timeline_entries_are_escaped_and_keep_line_breaks(client: Client, agent, ticket):
    services.add_reply(ticket, actor=agent, body="<script>alert(1)</script>\nsecond line")
    client.force_login(agent)

    html = client.get(_url("detail", ticket)).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>second line" in html
