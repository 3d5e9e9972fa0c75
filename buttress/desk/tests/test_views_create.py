from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.desk.models import Source, Ticket
from buttress.testing.factories import AssetFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_create_form_defaults_to_phone(client: Client, agent, org):
    client.force_login(agent)

    response = client.get(reverse("desk:create"), {"organization": org.pk})

    assert response.status_code == 200
    assert response.context["form"]["source"].value() == Source.PHONE


def test_create_opens_a_ticket_with_requester_and_assets(client: Client, agent, org):
    contact = ContactFactory.create(organization=org)
    asset = AssetFactory.create(organization=org)
    client.force_login(agent)

    response = client.post(
        reverse("desk:create"),
        {
            "organization": org.pk,
            "requester": contact.pk,
            "subject": "Laptop will not boot",
            "description": "Since this morning",
            "type": "incident",
            "impact": "high",
            "urgency": "medium",
            "assignee": agent.pk,
            "source": "phone",
            "assets": [asset.pk],
        },
    )

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("desk:detail", kwargs={"pk": ticket.pk})
    assert (ticket.requester, ticket.priority, ticket.source) == (contact, "P2", "phone")
    assert (ticket.created_by, ticket.assignee) == (agent, agent)
    assert list(ticket.assets.all()) == [asset]


def test_create_refuses_a_requester_of_another_organisation(client: Client, agent, org, other_org):
    stranger = ContactFactory.create(organization=other_org)
    client.force_login(agent)

    response = client.post(
        reverse("desk:create"),
        {
            "organization": org.pk,
            "requester": stranger.pk,
            "subject": "x",
            "type": "incident",
            "impact": "low",
            "urgency": "low",
            "source": "phone",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["requester"]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"organization": "99999999999999999999", "subject": "x"},
        {"organization": "abc", "subject": "x"},
        {"subject": "\x00", "type": "incident"},
        {"subject": "ok", "type": "incident", "impact": "huge", "assets": ["99999999999999999999"]},
    ],
)
def test_create_bad_input_is_a_form_error(client: Client, agent, org, data):
    client.force_login(agent)

    response = client.post(reverse("desk:create"), {"organization": org.pk, **data})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Ticket.objects.exists()


def test_create_cannot_use_an_organisation_out_of_reach(client: Client, agent, org, other_org):
    agent.limited_to.add(org)
    client.force_login(agent)

    response = client.post(
        reverse("desk:create"),
        {
            "organization": other_org.pk,
            "subject": "x",
            "type": "incident",
            "impact": "low",
            "urgency": "low",
            "source": "phone",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["organization"]


def test_changing_the_organisation_reloads_the_form_fragment(client: Client, agent, org):
    contact = ContactFactory.create(organization=org, name="Pat Caller")
    client.force_login(agent)

    response = client.get(
        reverse("desk:create"), {"organization": org.pk}, headers={"HX-Request": "true"}
    )

    assert b"<html" not in response.content
    assert b"Pat Caller" in response.content
    assert contact.pk


def test_create_is_forbidden_to_viewers_and_customers(client: Client, viewer, end_user):
    for user in (viewer, end_user):
        client.force_login(user)
        assert client.get(reverse("desk:create")).status_code == 403
