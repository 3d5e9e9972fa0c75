"""Requesters (contacts, with an account or not) choose which ticket mail they get: from the
portal, or from the signed link at the foot of every such mail, and the mail client's
one-click unsubscribe stops it all."""

from __future__ import annotations

from functools import partial
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.audit.models import AuditEntry
from buttress.desk import services as desk
from buttress.desk.models import EventKind, Status, Ticket, TicketEvent
from buttress.desk.tasks import send_acknowledgement, send_reply, send_status_change
from buttress.notify import links
from buttress.notify.models import DEFAULT_REQUESTER_EVENTS, RequesterEvent, RequesterPreference
from buttress.notify.services import requesters
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dana(org):
    return ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")


@pytest.fixture
def ticket(org, agent, dana):
    return desk.create_ticket(org, actor=agent, subject="VPN", requester=dana)


def _path(url: str) -> str:
    return urlparse(url).path


def _status_tasks(callbacks: list[object]) -> list[int]:
    return [
        c.args[0]
        for c in callbacks
        if isinstance(c, partial) and c.func == send_status_change.enqueue
    ]


def _last_status_event(ticket: Ticket) -> TicketEvent:
    return ticket.events.filter(kind__in=(EventKind.STATUS_CHANGED, EventKind.REOPENED)).latest(
        "id"
    )


def test_by_default_a_requester_hears_of_replies_and_waiting_but_not_routine_status(dana):
    assert RequesterPreference.objects.events_for(dana.pk) == DEFAULT_REQUESTER_EVENTS
    assert RequesterEvent.STATUS_CHANGED not in DEFAULT_REQUESTER_EVENTS


def test_an_agents_public_reply_mails_the_requester_with_a_way_to_choose(ticket, agent, dana):
    reply = desk.add_reply(ticket, actor=agent, body="Restart the client.")

    assert send_reply.call(reply.pk) is True

    [sent] = mail.outbox
    manage = links.requester_url(dana.pk)
    assert manage in sent.body
    assert sent.extra_headers["List-Unsubscribe"] == f"<{links.requester_unsubscribe_url(dana.pk)}>"
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_status_change_by_an_agent_mails_the_requester_under_their_choice(
    ticket, agent, dana, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        desk.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent)
    [queued] = _status_tasks(callbacks)

    assert send_status_change.call(queued) is True

    [sent] = mail.outbox
    assert sent.to == ["dana@acme.example"]
    assert sent.subject == f"[{ticket.reference}] Waiting on customer: VPN"
    assert "waits for your answer" in sent.body
    assert sent.extra_headers["Message-ID"].startswith(f"<status-{queued}.{ticket.number}@")
    assert "List-Unsubscribe" in sent.extra_headers


def test_routine_status_changes_are_mailed_only_to_who_asked(ticket, agent, dana):
    desk.transition(ticket, Status.IN_PROGRESS, actor=agent)
    in_progress = _last_status_event(ticket)

    assert send_status_change.call(in_progress.pk) is False
    requesters.set_requester_events(
        dana, events=[RequesterEvent.STATUS_CHANGED], actor=None, via="link"
    )
    assert send_status_change.call(in_progress.pk) is True
    assert "is being worked on" in mail.outbox[0].body


def test_turning_replies_off_stops_reply_mail(ticket, agent, dana):
    requesters.set_requester_events(dana, events=[RequesterEvent.RESOLVED], actor=None, via="link")
    reply = desk.add_reply(ticket, actor=agent, body="Restart the client.")
    desk.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent)

    assert send_reply.call(reply.pk) is False
    assert send_status_change.call(_last_status_event(ticket).pk) is False
    assert send_acknowledgement.call(ticket.pk) is False
    assert mail.outbox == []


def test_the_requesters_own_moves_are_not_mailed_back_to_them(
    ticket, agent, end_user, dana, django_capture_on_commit_callbacks
):
    end_user.contact = dana
    end_user.save()
    desk.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent)

    with django_capture_on_commit_callbacks() as callbacks:
        desk.add_reply(ticket, actor=end_user, body="Here you go.")
        desk.close_by_customer(ticket, actor=end_user)

    assert _status_tasks(callbacks) == []


def test_the_link_in_a_mail_lets_a_contact_without_an_account_choose(ticket, dana):
    client = Client()
    url = _path(links.requester_url(dana.pk))

    page = client.get(url)
    saved = client.post(url, {"events": [RequesterEvent.AGENT_REPLIED, RequesterEvent.RESOLVED]})

    assert page.status_code == 200
    assert "dana@acme.example" in page.text
    assert saved.status_code == 200
    assert "Saved" in saved.text
    assert RequesterPreference.objects.events_for(dana.pk) == {
        RequesterEvent.AGENT_REPLIED,
        RequesterEvent.RESOLVED,
    }
    entry = AuditEntry.objects.get(note="ticket mail chosen via link")
    assert entry.organization_id == dana.organization_id


def test_a_bad_or_altered_link_is_not_found(dana):
    token = links.requester_token(dana.pk)

    altered = Client().get(reverse("notify:requester", kwargs={"token": token[:-2] + "xx"}))
    unknown = Client().post(
        reverse("notify:requester_unsubscribe", kwargs={"token": links.requester_token(999_999)})
    )
    bogus = Client().post(
        reverse("notify:requester", kwargs={"token": token}), {"events": ["everything"]}
    )

    assert altered.status_code == 404
    assert unknown.status_code == 404
    assert bogus.status_code == 400
    assert RequesterPreference.objects.events_for(dana.pk) == DEFAULT_REQUESTER_EVENTS


def test_one_click_unsubscribe_stops_every_ticket_mail(ticket, agent, dana):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        _path(links.requester_unsubscribe_url(dana.pk)),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    reply = desk.add_reply(ticket, actor=agent, body="Hello")

    assert response.status_code == 200
    assert RequesterPreference.objects.events_for(dana.pk) == frozenset()
    assert send_reply.call(reply.pk) is False


def test_a_portal_user_chooses_their_mail_on_the_portal(org, end_user, dana):
    end_user.contact = dana
    end_user.save()
    client = Client()
    client.force_login(end_user)

    page = client.get(reverse("portal:mail"))
    saved = client.post(reverse("portal:mail"), {"events": [RequesterEvent.STATUS_CHANGED]})

    assert page.status_code == 200
    assert "Replies and updates from support" in page.text
    assert saved.status_code == 302
    assert RequesterPreference.objects.events_for(dana.pk) == {RequesterEvent.STATUS_CHANGED}
    assert RequesterPreference.objects.for_org(org).count() == 1


def test_a_customer_chooses_their_request_mail_through_the_api(end_user, dana, agent):
    end_user.contact = dana
    end_user.save()
    api = api_as(end_user, raise_errors=False)

    before = api.get("/me/request-mail")
    saved = api.request("PUT", "/me/request-mail", {"events": ["resolved"]})
    wrong = api.request("PUT", "/me/request-mail", {"events": ["everything"]})
    no_contact = api_as(agent, raise_errors=False).get("/me/request-mail")

    assert before.json() == {"events": sorted(DEFAULT_REQUESTER_EVENTS)}
    assert saved.status_code == 200
    assert saved.json() == {"events": ["resolved"]}
    assert wrong.status_code == 400
    assert no_contact.status_code == 400
    assert RequesterPreference.objects.events_for(dana.pk) == {RequesterEvent.RESOLVED}


# --- the requester's Apprise targets ----------------------------------------------------------


def _portal(end_user, dana) -> Client:
    end_user.contact = dana
    end_user.save()
    client = Client()
    client.force_login(end_user)
    return client


def _send_all(notifications) -> None:
    from buttress.notify.services import delivery

    for notification in notifications:
        notification.refresh_from_db()
        assert notification.send_due_at is not None
        delivery.attempt(notification.pk, notification.send_due_at.isoformat())


def test_a_customer_adds_a_chat_target_and_gets_their_ticket_messages_there(
    ticket, agent, end_user, dana, monkeypatch
):
    from buttress.notify import channels
    from buttress.notify.models import ContactMethod, DeliveryStatus, Notification
    from buttress.notify.tests.receiver import receiver

    # The loopback receiver stands in for a public service (ntfy, say).
    monkeypatch.setattr(channels, "private_target", lambda url: None)
    client = _portal(end_user, dana)
    with receiver() as server:
        added = client.post(
            reverse("portal:chat_target_add"),
            {"label": "My phone", "target": f"json://127.0.0.1:{server.port}/push"},
        )
        assert added.status_code == 302, added.text
        method = ContactMethod.objects.get(user=end_user)
        assert method.kind == "apprise"
        assert "My phone" in client.get(reverse("portal:mail")).text

        reply = desk.add_reply(ticket, actor=agent, body="Restart the client.")
        assert send_reply.call(reply.pk) is True
        pushed = list(Notification.objects.filter(user=end_user, method=method))
        _send_all(pushed)

    assert len(mail.outbox) == 1  # the mail still goes
    [notification] = pushed
    notification.refresh_from_db()
    assert notification.status == DeliveryStatus.SENT
    assert notification.ticket == ticket
    assert notification.event == RequesterEvent.AGENT_REPLIED
    [request] = server.requests
    assert b"Restart the client." in request.body
    assert ticket.reference.encode() in request.body


def test_targets_get_only_the_messages_the_requester_chose(ticket, agent, end_user, dana):
    from buttress.notify.models import ContactMethod, Notification

    _portal(end_user, dana)
    ContactMethod.objects.create(
        user=end_user, kind="apprise", label="ntfy", target_sealed="x", target_hint="ntfy://t"
    )
    requesters.set_requester_events(dana, events=[], actor=None, via="portal")

    reply = desk.add_reply(ticket, actor=agent, body="Restart the client.")
    send_reply.call(reply.pk)

    assert not Notification.objects.filter(user=end_user).exists()


def test_a_customer_may_not_add_a_private_target(end_user, dana):
    from buttress.notify.models import ContactMethod

    response = _portal(end_user, dana).post(
        reverse("portal:chat_target_add"),
        {"label": "Sneaky", "target": "json://127.0.0.1:6379/"},
    )

    assert response.status_code == 400
    assert "private address" in response.text
    assert not ContactMethod.objects.exists()


def test_a_customer_target_that_reaches_a_private_address_is_refused_when_sent(
    ticket, end_user, dana
):
    from buttress.notify import crypto
    from buttress.notify.models import ContactMethod, DeliveryStatus
    from buttress.notify.services import sending
    from buttress.notify.tests.receiver import receiver

    _portal(end_user, dana)
    with receiver() as server:
        # As if its name had come to resolve to a private address after it was added.
        ContactMethod.objects.create(
            user=end_user,
            kind="apprise",
            label="ntfy",
            target_sealed=crypto.seal(f"json://127.0.0.1:{server.port}/push"),
            target_hint="json://127.0.0.1",
        )
        pushed = sending.notify_requester_channels(
            dana.pk, ticket=ticket, subject="Hello", body="Body", event="agent_replied"
        )
        _send_all(pushed)

    [notification] = pushed
    notification.refresh_from_db()
    assert notification.status != DeliveryStatus.SENT
    assert "private address" in notification.last_error
    assert server.requests == []


def test_a_customer_cannot_touch_anothers_target(org, end_user, dana):
    from buttress.notify.models import ContactMethod
    from buttress.testing.factories import UserFactory

    other = UserFactory.create(role="end_user", organization=org, email="eve@acme.example")
    theirs = ContactMethod.objects.create(
        user=other, kind="apprise", label="ntfy", target_sealed="x", target_hint="ntfy://t"
    )
    client = _portal(end_user, dana)

    for name in ("portal:chat_target_delete", "portal:chat_target_test"):
        assert client.post(reverse(name, args=[theirs.pk])).status_code == 404
    assert ContactMethod.objects.filter(pk=theirs.pk).exists()
