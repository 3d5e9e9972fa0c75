"""The satisfaction survey: a signed link after resolution, a rating from 1 to 5."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.desk import services as desk
from buttress.desk import survey as links
from buttress.desk.models import EventKind, SurveyResponse
from buttress.desk.tasks import send_survey
from buttress.lib.timeutil import now
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved(org, agent):
    requester = ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")
    ticket = desk.create_ticket(org, actor=agent, subject="Mail down", requester=requester)
    desk.transition(ticket, "resolved", actor=agent)
    return ticket


def test_resolving_queues_the_survey_and_the_task_mails_a_working_link(
    org, agent, django_capture_on_commit_callbacks, client: Client
):
    requester = ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")
    ticket = desk.create_ticket(org, actor=agent, subject="Mail down", requester=requester)
    with django_capture_on_commit_callbacks() as callbacks:
        desk.transition(ticket, "resolved", actor=agent)
    assert len(callbacks) == 1

    assert send_survey.call(ticket.pk, 0) is True

    [message] = mail.outbox
    assert message.to == ["dana@acme.example"]
    link = next(line for line in message.body.splitlines() if "/tickets/survey/" in line)
    path = link[link.index("/tickets/survey/") :]
    assert client.get(path).status_code == 200


def test_a_rating_is_recorded_on_the_timeline_and_can_be_changed(client: Client, resolved):
    url = reverse("desk:survey", kwargs={"token": links.make_token(resolved)})

    first = client.post(url, {"rating": "2", "comment": "Slow"})
    second = client.post(url, {"rating": "4", "comment": "Fine after all"})

    response = SurveyResponse.objects.get()
    assert first.status_code == second.status_code == 200
    assert (response.rating, response.comment) == (4, "Fine after all")
    assert resolved.events.filter(kind=EventKind.SURVEY_ANSWERED).count() == 2
    assert "Thank you" in second.text


def test_bad_ratings_and_links_are_clear_errors(client: Client, resolved):
    url = reverse("desk:survey", kwargs={"token": links.make_token(resolved)})

    bad_rating = client.post(url, {"rating": "9"})
    tampered = client.get(
        reverse("desk:survey", kwargs={"token": "x" + links.make_token(resolved)})
    )
    with time_machine.travel(now() + timedelta(days=31)):
        expired = client.get(url)

    assert bad_rating.status_code == 400
    assert "Select a valid choice" in bad_rating.text
    assert tampered.status_code == 400
    assert "not valid" in tampered.text
    assert expired.status_code == 400
    assert "expired" in expired.text
    assert not SurveyResponse.objects.exists()


def test_a_reopened_ticket_waits_for_its_next_resolution(client: Client, resolved, agent):
    old = links.make_token(resolved)
    desk.transition(resolved, "open", actor=agent)

    page = client.get(reverse("desk:survey", kwargs={"token": old}))
    assert send_survey.call(resolved.pk, 0) is False

    assert page.status_code == 400
    assert "open again" in page.text
    desk.transition(resolved, "resolved", actor=agent)
    fresh = client.post(
        reverse("desk:survey", kwargs={"token": links.make_token(resolved)}), {"rating": "5"}
    )
    assert fresh.status_code == 200
    assert SurveyResponse.objects.get().round == 1


def test_no_mail_without_a_requester_address(org, agent):
    ticket = desk.create_ticket(org, actor=agent, subject="No one to ask")
    desk.transition(ticket, "resolved", actor=agent)

    assert send_survey.call(ticket.pk, 0) is False
    assert mail.outbox == []


def test_staff_read_ratings_in_the_api(client: Client, resolved, agent):
    client.post(
        reverse("desk:survey", kwargs={"token": links.make_token(resolved)}), {"rating": "3"}
    )

    ratings = api_as(agent).get(f"/tickets/{resolved.pk}/survey").json()

    assert [r["rating"] for r in ratings] == [3]
