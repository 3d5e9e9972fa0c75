import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buttress.api.tests.conftest import api_as
from buttress.audit.models import AuditEntry
from buttress.desk import services
from buttress.desk.models import Ticket
from buttress.testing.factories import AssetFactory, ContactFactory, TeamFactory

pytestmark = pytest.mark.django_db

HUGE = 99999999999999999999


@pytest.fixture
def contact(org, end_user):
    contact = ContactFactory.create(organization=org)
    end_user.contact = contact
    end_user.save()
    return contact


@pytest.fixture
def ticket(org, agent, contact):
    return services.create_ticket(org, actor=agent, subject="Mail is down", requester=contact)


def test_agent_opens_a_ticket_with_every_field(as_agent, agent, org, contact):
    team = TeamFactory.create()
    asset = AssetFactory.create(organization=org)

    response = as_agent.post(
        "/tickets",
        {
            "organization": org.pk,
            "subject": "VPN down",
            "type": "incident",
            "impact": "high",
            "urgency": "high",
            "requester": contact.pk,
            "team": team.pk,
            "assignee": agent.pk,
            "source": "phone",
            "tags": ["VPN"],
            "assets": [asset.pk],
            "watchers": [agent.pk],
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"] == f"T-{body['number']}"
    assert (body["priority"], body["status"], body["source"]) == ("P1", "new", "phone")
    assert (body["organization"], body["requester"]) == (org.pk, contact.pk)
    assert (body["team"], body["assignee"]) == (team.pk, agent.pk)
    assert body["assets"] == [asset.pk]
    assert body["watchers"] == [agent.pk]
    assert body["tags"] == ["vpn"]
    assert "resolved" in body["transitions"]


def test_end_user_opens_a_ticket_as_its_requester(end_user, org, contact):
    client = api_as(end_user)

    response = client.post("/tickets", {"organization": org.pk, "subject": "Laptop slow"})

    assert response.status_code == 201, response.content
    assert response.json()["requester"] == contact.pk
    assert response.json()["source"] == "api"


def test_end_user_may_not_assign_or_open_for_someone_else(end_user, org, contact, agent):
    client = api_as(end_user)
    colleague = ContactFactory.create(organization=org)

    assigned = client.post(
        "/tickets", {"organization": org.pk, "subject": "x", "assignee": agent.pk}
    )
    for_other = client.post(
        "/tickets", {"organization": org.pk, "subject": "x", "requester": colleague.pk}
    )

    assert assigned.status_code == 403
    assert for_other.status_code == 400
    assert not Ticket.objects.exists()


def test_viewer_cannot_open_a_ticket(as_viewer, org):
    response = as_viewer.post("/tickets", {"organization": org.pk, "subject": "x"})

    assert response.status_code == 403


def test_requester_of_another_organisation_is_a_field_error(as_agent, org, other_org):
    foreign = ContactFactory.create(organization=other_org)

    response = as_agent.post(
        "/tickets", {"organization": org.pk, "subject": "x", "requester": foreign.pk}
    )

    assert response.status_code == 400
    assert "requester" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"subject": "x"},
        {"subject": "", "organization": 0},
        {"subject": "x", "organization": 0, "impact": "extreme"},
        {"subject": "x", "organization": 0, "type": "bug"},
    ],
)
def test_malformed_ticket_is_refused_with_422(as_agent, org, body):
    if body.get("organization") == 0:
        body["organization"] = org.pk

    response = as_agent.post("/tickets", body)

    assert response.status_code == 422
    assert response.json()["detail"]


def test_list_filters_by_each_field(as_agent, agent, org, other_org):
    team = TeamFactory.create()
    mine = services.create_ticket(
        org,
        actor=agent,
        subject="Disk full",
        team=team,
        assignee=agent,
        source="monitoring",
        tags=["storage", "db"],
    )
    printer = services.create_ticket(
        org, actor=agent, subject="Printer", type="service_request", tags=["storage-room"]
    )
    elsewhere = services.create_ticket(other_org, actor=agent, subject="Elsewhere", impact="high")
    services.transition(mine, "in_progress", actor=agent)
    services.transition(printer, "waiting_on_customer", actor=agent)

    def ids(**params):
        response = as_agent.get("/tickets", **params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    assert len(ids()) == 3
    assert len(ids(organization=org.pk)) == 2
    assert ids(team=team.pk) == [mine.pk]
    assert ids(assignee=agent.pk) == [mine.pk]
    assert ids(source="monitoring") == [mine.pk]
    assert len(ids(type="service_request")) == 1
    assert len(ids(priority="P2")) == 1
    assert ids(status="new") == [elsewhere.pk]
    assert ids(status="in_progress") == [mine.pk]
    assert ids(status="waiting_on_customer") == [printer.pk]
    assert ids(tag="storage") == [mine.pk]
    assert ids(tag=" DB ") == [mine.pk]
    assert ids(tag="storage-room") == [printer.pk]
    assert ids(tag="stor") == []
    assert ids(q="disk") == [mine.pk]
    assert ids(q=mine.reference) == [mine.pk]
    assert ids(q="T-²") == []


def test_list_pages_newest_change_first(as_agent, agent, org):
    old = services.create_ticket(org, actor=agent, subject="old")
    services.create_ticket(org, actor=agent, subject="new")
    services.add_reply(old, actor=agent, body="bump")

    first = as_agent.get("/tickets", limit=1).json()
    second = as_agent.get("/tickets", limit=1, cursor=first["next_cursor"]).json()

    assert [first["items"][0]["subject"], second["items"][0]["subject"]] == ["old", "new"]
    assert second["next_cursor"] is None


def test_list_costs_the_same_queries_for_one_or_many_tickets(as_agent, agent, org):
    team = TeamFactory.create()
    services.create_ticket(org, actor=agent, subject="one", team=team, assignee=agent)
    as_agent.get("/tickets")  # the token's first use of the minute writes last_used_at
    with CaptureQueriesContext(connection) as one:
        assert as_agent.get("/tickets").status_code == 200
    for i in range(15):
        services.create_ticket(org, actor=agent, subject=f"t{i}", team=team, assignee=agent)

    with CaptureQueriesContext(connection) as many:
        assert len(as_agent.get("/tickets").json()["items"]) == 16

    assert len(many) == len(one)


@pytest.mark.parametrize("param", ["assignee", "team", "requester", "organization"])
def test_id_filter_past_64_bits_is_not_a_server_error(as_agent, param):
    response = as_agent.get("/tickets", **{param: str(HUGE)})

    assert response.status_code in (200, 400, 404)


def test_bad_cursor_and_unknown_status_filter_are_refused(as_agent):
    assert as_agent.get("/tickets", cursor="nonsense").status_code == 400
    assert as_agent.get("/tickets", status="sleeping").status_code == 422


def test_end_user_lists_only_their_tickets(end_user, agent, org, ticket):
    services.create_ticket(org, actor=agent, subject="someone else's")

    items = api_as(end_user).get("/tickets").json()["items"]

    assert [item["id"] for item in items] == [ticket.pk]


def test_patch_assigns_and_audits(as_agent, agent, ticket):
    team = TeamFactory.create(name="Network")

    response = as_agent.patch(f"/tickets/{ticket.pk}", {"team": team.pk, "urgency": "high"})

    assert response.status_code == 200, response.content
    assert (response.json()["team"], response.json()["priority"]) == (team.pk, "P2")
    entry = AuditEntry.objects.get(object_type="desk.ticket", action="update")
    assert entry.changes["team"] == [None, "Network"]


def test_patch_refuses_null_subject_and_unknown_team(as_agent, ticket):
    assert as_agent.patch(f"/tickets/{ticket.pk}", {"subject": None}).status_code == 400
    assert as_agent.patch(f"/tickets/{ticket.pk}", {"team": HUGE}).status_code == 400
    assert as_agent.patch(f"/tickets/{ticket.pk}", {"team": 424242}).status_code == 400


def test_patch_sets_and_clears_the_parent(as_agent, agent, org, ticket):
    parent = services.create_ticket(org, actor=agent, subject="Outage")

    set_ = as_agent.patch(f"/tickets/{ticket.pk}", {"parent": parent.pk})
    cleared = as_agent.patch(f"/tickets/{ticket.pk}", {"parent": None})

    assert set_.json()["parent"] == parent.pk
    assert cleared.json()["parent"] is None
    assert as_agent.patch(f"/tickets/{parent.pk}", {"parent": parent.pk}).status_code == 400


def test_customer_cannot_patch(org_admin, ticket):
    response = api_as(org_admin).patch(f"/tickets/{ticket.pk}", {"subject": "mine now"})

    assert response.status_code == 403


def test_read_token_cannot_change_a_ticket(agent, ticket):
    client = api_as(agent, scope="read")

    assert client.get(f"/tickets/{ticket.pk}").status_code == 200
    assert client.post(f"/tickets/{ticket.pk}/transitions", {"status": "open"}).status_code == 403


def test_transitions_follow_the_table(as_agent, ticket):
    url = f"/tickets/{ticket.pk}/transitions"

    assert as_agent.post(url, {"status": "resolved"}).json()["status"] == "resolved"
    refused = as_agent.post(url, {"status": "in_progress"})
    reopened = as_agent.post(url, {"status": "open"})

    assert refused.status_code == 400
    assert "status" in refused.json()["detail"]
    assert reopened.json()["reopened_count"] == 1
    assert as_agent.post(url, {"status": "asleep"}).status_code == 422


def test_replies_and_notes(as_agent, end_user, ticket):
    customer = api_as(end_user)

    public = as_agent.post(f"/tickets/{ticket.pk}/replies", {"body": "Restarting the server"})
    note = as_agent.post(f"/tickets/{ticket.pk}/notes", {"body": "RAID degraded"})
    answer = customer.post(f"/tickets/{ticket.pk}/replies", {"body": "Thanks"})

    assert public.status_code == note.status_code == answer.status_code == 201
    assert note.json()["internal"] is True
    staff_view = as_agent.get(f"/tickets/{ticket.pk}/replies").json()["items"]
    customer_view = customer.get(f"/tickets/{ticket.pk}/replies").json()["items"]
    assert [r["body"] for r in staff_view] == ["Restarting the server", "RAID degraded", "Thanks"]
    assert [r["body"] for r in customer_view] == ["Restarting the server", "Thanks"]
    assert [n["body"] for n in as_agent.get(f"/tickets/{ticket.pk}/notes").json()["items"]] == [
        "RAID degraded"
    ]
    assert as_agent.get(f"/tickets/{ticket.pk}").json()["first_response_at"] is not None


def test_customer_cannot_write_or_read_internal_notes(end_user, ticket):
    customer = api_as(end_user)

    as_reply = customer.post(f"/tickets/{ticket.pk}/replies", {"body": "x", "internal": True})
    as_note = customer.post(f"/tickets/{ticket.pk}/notes", {"body": "x"})
    listed = customer.get(f"/tickets/{ticket.pk}/notes")

    assert (as_reply.status_code, as_note.status_code, listed.status_code) == (403, 403, 403)


def test_blank_reply_is_refused(as_agent, ticket):
    assert as_agent.post(f"/tickets/{ticket.pk}/replies", {"body": "  "}).status_code == 400
    assert as_agent.post(f"/tickets/{ticket.pk}/replies", {"body": ""}).status_code == 422


def test_time_entries(as_agent, end_user, ticket):
    url = f"/tickets/{ticket.pk}/time-entries"

    created = as_agent.post(url, {"minutes": 30, "activity": "onsite", "date": "2026-03-02"})
    too_long = as_agent.post(url, {"minutes": 5000})
    bad_date = as_agent.post(url, {"minutes": 5, "date": "yesterday"})

    assert created.status_code == 201, created.content
    assert created.json()["date"] == "2026-03-02"
    assert too_long.status_code == 400
    assert bad_date.status_code == 422
    assert [e["minutes"] for e in as_agent.get(url).json()["items"]] == [30]
    assert api_as(end_user).get(url).status_code == 403


def test_timeline_lists_every_change_and_hides_internal_ones_from_customers(
    as_agent, end_user, ticket
):
    as_agent.post(f"/tickets/{ticket.pk}/transitions", {"status": "open"})
    as_agent.post(f"/tickets/{ticket.pk}/notes", {"body": "internal"})
    as_agent.post(f"/tickets/{ticket.pk}/time-entries", {"minutes": 5})

    staff = [e["kind"] for e in as_agent.get(f"/tickets/{ticket.pk}/events").json()["items"]]
    customer = [
        e["kind"] for e in api_as(end_user).get(f"/tickets/{ticket.pk}/events").json()["items"]
    ]

    assert staff == ["created", "status_changed", "note_added", "time_logged"]
    assert customer == ["created", "status_changed"]


def test_assets_link_list_and_unlink(as_agent, org, other_org, ticket):
    asset = AssetFactory.create(organization=org, name="mail01")
    foreign = AssetFactory.create(organization=other_org)
    url = f"/tickets/{ticket.pk}/assets"

    linked = as_agent.post(url, {"asset": asset.pk})
    refused = as_agent.post(url, {"asset": foreign.pk})

    assert linked.status_code == 201
    assert [a["name"] for a in as_agent.get(url).json()] == ["mail01"]
    assert refused.status_code == 400
    assert as_agent.delete(f"{url}/{asset.pk}").status_code == 204
    assert as_agent.delete(f"{url}/{asset.pk}").status_code == 404
    assert as_agent.get(url).json() == []


def test_merge_into_another_ticket(as_agent, agent, org, ticket):
    target = services.create_ticket(org, actor=agent, subject="Mail outage")
    services.add_reply(ticket, actor=agent, body="first")

    response = as_agent.post(f"/tickets/{ticket.pk}/merge", {"into": target.pk})

    assert response.status_code == 200, response.content
    assert response.json()["id"] == target.pk
    duplicate = as_agent.get(f"/tickets/{ticket.pk}").json()
    assert (duplicate["status"], duplicate["merged_into"]) == ("closed", target.pk)
    assert duplicate["transitions"] == []
    assert [r["body"] for r in as_agent.get(f"/tickets/{target.pk}/replies").json()["items"]] == [
        "first"
    ]


def test_merge_into_a_ticket_the_caller_cannot_see_is_a_field_error(
    as_agent, agent, other_org, ticket
):
    limited = api_as(agent)
    agent.limited_to.add(ticket.organization)
    foreign = services.create_ticket(other_org, actor=agent, subject="theirs")

    response = limited.post(f"/tickets/{ticket.pk}/merge", {"into": foreign.pk})

    assert response.status_code == 400
    assert "into" in response.json()["detail"]


def test_related_and_incident_links(as_agent, agent, org, ticket):
    problem = services.create_ticket(org, actor=agent, subject="Mail server flaky", type="problem")

    related = as_agent.post(f"/tickets/{ticket.pk}/related", {"ticket": problem.pk})
    linked = as_agent.post(f"/tickets/{problem.pk}/incidents", {"incident": ticket.pk})
    wrong_way = as_agent.post(f"/tickets/{ticket.pk}/incidents", {"incident": problem.pk})

    assert related.json()["related"] == [problem.pk]
    assert linked.json()["incidents"] == [ticket.pk]
    assert as_agent.get(f"/tickets/{ticket.pk}").json()["problems"] == [problem.pk]
    assert wrong_way.status_code == 400


def test_unknown_ticket_is_404(as_agent):
    assert as_agent.get("/tickets/424242").status_code == 404
    assert as_agent.post("/tickets/424242/replies", {"body": "x"}).status_code == 404


def test_refused_field_in_a_patch_leaves_the_parent_alone(as_agent, agent, viewer, org, ticket):
    parent = services.create_ticket(org, actor=agent, subject="Outage")

    # A viewer exists but may not be assigned: the service refuses after the parent was set.
    response = as_agent.patch(f"/tickets/{ticket.pk}", {"parent": parent.pk, "assignee": viewer.pk})

    assert response.status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).parent is None


def test_customer_closes_their_own_request_through_resolved(end_user, ticket):
    response = api_as(end_user).post(
        f"/tickets/{ticket.pk}/transitions", {"status": "closed", "comment": "Works again"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "closed"
    assert body["resolved_at"] is not None
    changes = [
        (e.detail["from"], e.detail["to"], e.actor_id)
        for e in ticket.events.filter(kind="status_changed").order_by("id")
    ]
    assert changes == [("new", "resolved", end_user.pk), ("resolved", "closed", end_user.pk)]
    assert ticket.replies.get().body == "Works again"


def test_customer_may_only_close_not_move_a_ticket(end_user, ticket):
    response = api_as(end_user).post(f"/tickets/{ticket.pk}/transitions", {"status": "resolved"})

    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == "new"


def test_customer_closing_a_closed_request_is_a_clear_error(end_user, ticket):
    customer = api_as(end_user)
    customer.post(f"/tickets/{ticket.pk}/transitions", {"status": "closed"})

    again = customer.post(f"/tickets/{ticket.pk}/transitions", {"status": "closed"})

    assert again.status_code == 400
    assert "already closed" in str(again.json()["detail"])


def test_org_admin_closes_a_colleagues_request_but_not_another_organisations(
    org_admin, other_org, agent, ticket
):
    foreign = services.create_ticket(other_org, actor=agent, subject="Their printer")
    client = api_as(org_admin)

    assert client.post(f"/tickets/{ticket.pk}/transitions", {"status": "closed"}).status_code == 200
    refused = client.post(f"/tickets/{foreign.pk}/transitions", {"status": "closed"})
    assert refused.status_code == 404
    assert Ticket.objects.get(pk=foreign.pk).status == "new"


def test_staff_transition_with_a_comment_sends_a_public_reply(as_agent, ticket):
    response = as_agent.post(
        f"/tickets/{ticket.pk}/transitions", {"status": "resolved", "comment": "Fixed the relay"}
    )

    assert response.json()["status"] == "resolved"
    reply = ticket.replies.get()
    assert (reply.body, reply.is_internal) == ("Fixed the relay", False)


def test_detail_lists_every_kind_of_link_in_constant_queries(as_agent, agent, org, ticket):
    bare = services.create_ticket(org, actor=agent, subject="bare")
    as_agent.get(f"/tickets/{bare.pk}")  # the token's first use of the minute writes last_used_at
    with CaptureQueriesContext(connection) as few:
        assert as_agent.get(f"/tickets/{bare.pk}").status_code == 200
    problem = services.create_ticket(org, actor=agent, subject="problem", type="problem")
    other = services.create_ticket(org, actor=agent, subject="other")
    child = services.create_ticket(org, actor=agent, subject="child")
    assets = [AssetFactory.create(organization=org) for _ in range(2)]
    services.update_ticket(ticket, actor=agent, watchers=[agent])
    for asset in assets:
        services.link_asset(ticket, asset, actor=agent)
    services.relate(ticket, other, actor=agent)
    services.link_incident(problem, ticket, actor=agent)
    services.set_parent(child, ticket, actor=agent)

    with CaptureQueriesContext(connection) as many:
        body = as_agent.get(f"/tickets/{ticket.pk}").json()

    assert body["watchers"] == [agent.pk]
    assert body["assets"] == sorted(a.pk for a in assets)
    assert body["related"] == [other.pk]
    assert body["problems"] == [problem.pk]
    assert body["incidents"] == []
    assert body["children"] == [child.pk]
    assert as_agent.get(f"/tickets/{problem.pk}").json()["incidents"] == [ticket.pk]
    assert as_agent.get(f"/tickets/{other.pk}").json()["related"] == [ticket.pk]
    assert len(many) == len(few)
