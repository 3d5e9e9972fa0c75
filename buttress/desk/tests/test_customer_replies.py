"""A customer's public reply answers the desk: a ticket waiting on the customer goes back to
open and a resolved one is reopened, so the SLA clocks run again; mail to a closed ticket opens
a follow-up related to it. Each move is on the timeline with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.desk import mail as desk_mail
from buttress.desk import services as desk
from buttress.desk.models import EventKind, InboundMail, InboundStatus, Status, Ticket
from buttress.desk.services.inbound import receive
from buttress.sla import services as sla_services
from buttress.sla.models import ClockState, SlaClock
from buttress.sla.replay import replay
from buttress.sla.tests.helpers import make_calendar, make_policy
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


@pytest.fixture
def dana(org, end_user):
    contact = ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")
    end_user.contact = contact
    end_user.save()
    return contact


@pytest.fixture
def ticket(org, agent, dana):
    return desk.create_ticket(org, actor=agent, subject="VPN drops", requester=dana, at=T0)


@pytest.fixture
def policy():
    calendar = make_calendar(name="Always", timezone="UTC", weekly=ALWAYS)
    made = make_policy(calendar=calendar)
    sla_services.create_rule(actor=None, policy=made)
    return made


def clock(ticket: Ticket, kind: str) -> SlaClock:
    return SlaClock.objects.get(ticket=ticket, kind=kind, is_current=True)


def kinds(ticket: Ticket) -> list[tuple[str, object]]:
    return [
        (e.kind, e.detail.get("reason"))
        for e in ticket.events.exclude(kind__startswith="sla_").order_by("at", "id")
    ]


def mail_from_dana(subject: str, message_id: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Dana <dana@acme.example>"
    message["To"] = "desk@provider.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("It happened again this morning.")
    return bytes(message)


def test_a_portal_reply_takes_a_ticket_waiting_on_the_customer_back_to_open(
    policy, ticket, agent, end_user
):
    desk.add_reply(ticket, actor=agent, body="Which client version?", at=T0 + timedelta(minutes=5))
    desk.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent, at=T0 + timedelta(minutes=6))
    assert clock(ticket, "resolution").state == ClockState.PAUSED
    client = Client()
    client.force_login(end_user)

    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        response = client.post(reverse("portal:detail", args=[ticket.pk]), {"body": "4.2.1"})

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert kinds(ticket)[-2:] == [
        (EventKind.STATUS_CHANGED, "customer_replied"),
        (EventKind.REPLIED, None),
    ]
    resolution = clock(ticket, "resolution")
    assert resolution.state == ClockState.RUNNING
    assert resolution.running_since == T0 + timedelta(hours=2)
    # Six minutes ran before the pause; the two hours of waiting did not count.
    assert resolution.elapsed == timedelta(minutes=6)
    assert clock(ticket, "next_response").state == ClockState.RUNNING


def test_a_mailed_reply_takes_a_waiting_ticket_back_to_open(ticket, agent, dana):
    desk.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent)

    outcome = receive(mail_from_dana(f"Re: [{ticket.reference}] VPN drops", "<r1@acme.example>"))

    assert outcome.status == InboundStatus.REPLY
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    event = ticket.events.get(kind=EventKind.STATUS_CHANGED, detail__to=Status.OPEN)
    assert event.detail["reason"] == "customer_replied"
    assert event.actor is None


def test_a_requesters_api_reply_takes_a_waiting_ticket_back_to_open(ticket, agent, end_user):
    desk.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent)

    response = api_as(end_user).post(f"/tickets/{ticket.pk}/replies", {"body": "Done."})

    assert response.status_code == 201, response.content
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_an_agents_reply_leaves_a_waiting_ticket_waiting(ticket, agent):
    desk.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent)

    desk.add_reply(ticket, actor=agent, body="Any news?")

    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_CUSTOMER


def test_a_customer_reply_reopens_a_resolved_ticket_and_its_resolution_clock_resumes(
    policy, ticket, agent, dana
):
    desk.add_reply(ticket, actor=agent, body="Fixed.", at=T0 + timedelta(minutes=10))
    desk.transition(ticket, Status.RESOLVED, actor=agent, at=T0 + timedelta(minutes=30))
    assert clock(ticket, "resolution").state == ClockState.MET

    desk.add_reply(ticket, actor=None, contact=dana, body="Not fixed.", at=T0 + timedelta(hours=3))

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.reopened_count == 1
    assert ticket.resolved_at is None
    assert kinds(ticket)[-2:] == [
        (EventKind.REOPENED, "customer_replied"),
        (EventKind.REPLIED, None),
    ]
    resolution = clock(ticket, "resolution")
    assert resolution.state == ClockState.RUNNING
    assert resolution.elapsed == timedelta(minutes=30)
    assert clock(ticket, "next_response").state == ClockState.RUNNING


def test_a_replay_of_the_timeline_agrees_with_the_live_clocks_after_customer_replies(
    policy, ticket, agent, dana
):
    desk.add_reply(ticket, actor=agent, body="Which version?", at=T0 + timedelta(minutes=5))
    desk.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent, at=T0 + timedelta(minutes=6))
    desk.add_reply(ticket, actor=None, contact=dana, body="4.2", at=T0 + timedelta(minutes=50))
    desk.add_reply(ticket, actor=agent, body="Fixed.", at=T0 + timedelta(minutes=70))
    desk.transition(ticket, Status.RESOLVED, actor=agent, at=T0 + timedelta(minutes=80))
    desk.add_reply(ticket, actor=None, contact=dana, body="No.", at=T0 + timedelta(minutes=200))

    report = replay(at=T0 + timedelta(minutes=210))

    assert report.examined == 1
    assert report.changed_tickets == 0, report.changes
    assert clock(ticket, "next_response").cycle == 2


def test_closing_with_a_comment_does_not_reopen_first(ticket, agent, end_user):
    desk.transition(ticket, Status.RESOLVED, actor=agent)

    desk.close_by_customer(ticket, actor=end_user, comment="Thanks, all good.")

    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.reopened_count == 0


def test_a_closed_ticket_takes_no_more_customer_replies_in_the_portal_or_the_api(
    ticket, agent, end_user, dana
):
    desk.transition(ticket, Status.CLOSED, actor=agent)
    client = Client()
    client.force_login(end_user)

    with pytest.raises(ValidationError, match="is closed"):
        desk.add_reply(ticket, actor=None, contact=dana, body="Hello?")
    page = client.get(reverse("portal:detail", args=[ticket.pk])).text
    posted = client.post(reverse("portal:detail", args=[ticket.pk]), {"body": "Hello?"})
    refused = api_as(end_user, raise_errors=False).post(
        f"/tickets/{ticket.pk}/replies", {"body": "Hello?"}
    )

    assert "takes no more replies" in page
    assert 'id="reply-heading"' not in page
    assert posted.status_code == 200
    assert "is closed" in posted.text
    assert refused.status_code == 400
    assert "is closed" in refused.json()["detail"]["body"][0]
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert not ticket.replies.exists()


def test_mail_threaded_to_a_closed_ticket_opens_a_related_follow_up(ticket, agent, dana):
    desk.update_ticket(ticket, actor=agent, tags=["vpn"], category="Network", assignee=agent)
    desk.transition(ticket, Status.CLOSED, actor=agent)

    outcome = receive(mail_from_dana(f"Re: [{ticket.reference}] VPN drops", "<again@acme.example>"))

    assert outcome.status == InboundStatus.NEW_TICKET
    follow_up = outcome.ticket
    assert follow_up is not None
    assert follow_up.pk != ticket.pk
    assert follow_up.subject == "VPN drops"
    assert follow_up.requester == dana
    assert (follow_up.tags, follow_up.category, follow_up.assignee) == (["vpn"], "Network", agent)
    assert follow_up.description == "It happened again this morning."
    assert list(follow_up.related.all()) == [ticket]
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert not ticket.replies.exists()
    stored = InboundMail.objects.get(message_id="<again@acme.example>")
    assert (
        f"{ticket.reference} is closed: opened follow-up {follow_up.reference}" in stored.decision
    )
    mine = follow_up.events.get(kind=EventKind.RELATED)
    theirs = ticket.events.get(kind=EventKind.RELATED)
    assert mine.detail == {
        "ticket": ticket.pk,
        "reason": "follow_up",
        "reference": ticket.reference,
    }
    assert theirs.detail["reason"] == "followed_up"
    assert theirs.detail["reference"] == follow_up.reference


def test_the_follow_up_timeline_entry_is_shown_on_the_closed_ticket(client, ticket, agent, dana):
    desk.transition(ticket, Status.CLOSED, actor=agent)
    outcome = receive(
        mail_from_dana(
            "Re: VPN drops", "<again@acme.example>", References=desk_mail.thread_id(ticket)
        )
    )
    assert outcome.ticket is not None
    assert outcome.ticket.pk != ticket.pk
    client.force_login(agent)

    page = client.get(reverse("desk:detail", args=[ticket.pk])).text

    assert f"Mail to this closed ticket opened follow-up {outcome.ticket.reference}" in page
