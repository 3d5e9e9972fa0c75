"""Managing catalogue items and their forms, and sending a form, which opens a ticket."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from buttress.audit.models import AuditEntry
from buttress.catalogue import services
from buttress.catalogue.models import CatalogueRequest
from buttress.desk.models import Attachment, Source, TicketType
from buttress.testing.factories import ContactFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def laptop(org, agent):
    item = services.create_item(
        actor=agent,
        organization=org,
        name="New laptop",
        category="Hardware",
        urgency="high",
        team=TeamFactory.create(name="Field"),
    )
    services.add_field(
        item,
        actor=agent,
        key="model",
        label="Model",
        kind="choice",
        required=True,
        choices=["13", "15"],
    )
    services.add_field(
        item, actor=agent, key="start", label="Start date", kind="date", required=True
    )
    services.add_field(item, actor=agent, key="dock", label="With a dock", kind="checkbox")
    return item


@pytest.fixture
def customer(org, end_user):
    end_user.contact = ContactFactory.create(organization=org, email=end_user.email)
    end_user.save()
    return end_user


def test_creating_an_item_is_audited(org, agent):
    item = services.create_item(actor=agent, organization=org, name="VPN access")

    assert item.ticket_type == TicketType.SERVICE_REQUEST
    assert AuditEntry.objects.filter(object_id=str(item.pk), action="create").exists()


def test_a_field_key_is_unique_within_its_form(laptop, agent):
    with pytest.raises(ValidationError) as caught:
        services.add_field(laptop, actor=agent, key="model", label="Again")

    assert "key" in caught.value.message_dict


def test_the_same_key_may_be_used_by_another_form(org, laptop, agent):
    other = services.create_item(actor=agent, organization=org, name="Monitor")

    field = services.add_field(other, actor=agent, key="model", label="Model")

    assert field.key == "model"


@pytest.mark.parametrize("key", ["Model", "1st", "has space", "", "x" * 51])
def test_a_field_key_is_a_lower_case_identifier(laptop, agent, key):
    with pytest.raises(ValidationError) as caught:
        services.add_field(laptop, actor=agent, key=key, label="Bad key")

    assert "key" in caught.value.message_dict


def test_a_choice_field_needs_choices(laptop, agent):
    with pytest.raises(ValidationError) as caught:
        services.add_field(laptop, actor=agent, key="colour", label="Colour", kind="choice")

    assert "choices" in caught.value.message_dict


def test_only_choice_fields_have_choices(laptop, agent):
    with pytest.raises(ValidationError) as caught:
        services.add_field(laptop, actor=agent, key="note", label="Note", choices=["a"])

    assert "choices" in caught.value.message_dict


def test_turning_a_field_into_a_choice_field_without_choices_is_refused(laptop, agent):
    start = laptop.fields.get(key="start")

    with pytest.raises(ValidationError):
        services.update_field(start, actor=agent, kind="multi_choice")


def test_renaming_a_key_onto_another_fields_key_is_refused(laptop, agent):
    start = laptop.fields.get(key="start")

    with pytest.raises(ValidationError):
        services.update_field(start, actor=agent, key="model")


def test_new_fields_go_last_and_moving_one_swaps_it_with_its_neighbour(laptop, agent):
    dock = laptop.fields.get(key="dock")

    services.move_field(dock, actor=agent, up=True)

    assert list(laptop.fields.order_by("position").values_list("key", flat=True)) == [
        "model",
        "dock",
        "start",
    ]


def test_sending_the_form_opens_a_ticket_with_the_items_defaults(laptop, customer):
    request = services.submit_request(
        laptop,
        actor=customer,
        answers={"model": "15", "start": "2026-12-01", "dock": True},
        summary="for the new starter",
    )

    ticket = request.ticket
    assert ticket.subject == "New laptop: for the new starter"
    assert ticket.type == TicketType.SERVICE_REQUEST
    assert ticket.category == "Hardware"
    assert ticket.urgency == "high"
    assert ticket.team == laptop.team
    assert ticket.source == Source.PORTAL
    assert ticket.requester == customer.contact
    assert "Model: 15" in ticket.description
    assert "With a dock: yes" in ticket.description
    assert [a["value"] for a in request.answers] == ["15", "2026-12-01", True]


def test_a_missing_required_answer_opens_nothing(laptop, customer):
    with pytest.raises(ValidationError) as caught:
        services.submit_request(laptop, actor=customer, answers={"model": "15"})

    assert "start" in caught.value.message_dict
    assert not CatalogueRequest.objects.exists()


def test_an_item_of_another_organisation_cannot_be_requested(other_org, agent, customer):
    theirs = services.create_item(actor=agent, organization=other_org, name="Their laptop")

    with pytest.raises(ValidationError):
        services.submit_request(theirs, actor=customer, answers={})


def test_a_shared_item_opens_the_ticket_in_the_requesters_organisation(org, admin_user, customer):
    shared = services.create_item(actor=admin_user, organization=None, name="Password reset")

    request = services.submit_request(shared, actor=customer, answers={})

    assert request.ticket.organization == org
    assert request.organization == org


def test_an_inactive_item_cannot_be_requested(laptop, agent, customer):
    services.update_item(laptop, actor=agent, is_active=False)

    with pytest.raises(ValidationError):
        services.submit_request(
            laptop, actor=customer, answers={"model": "15", "start": "2026-12-01"}
        )


def test_files_sent_with_the_form_are_attached_to_the_ticket(laptop, customer):
    request = services.submit_request(
        laptop,
        actor=customer,
        answers={"model": "13", "start": "2026-12-01"},
        files=[SimpleUploadedFile("quote.txt", b"price")],
    )

    assert Attachment.objects.get(ticket=request.ticket).filename == "quote.txt"


def test_deleting_an_item_keeps_the_answers_already_given(laptop, agent, customer):
    request = services.submit_request(
        laptop, actor=customer, answers={"model": "13", "start": "2026-12-01"}
    )

    services.delete_item(laptop, actor=agent)

    request.refresh_from_db()
    assert request.item is None
    assert request.item_name == "New laptop"
    assert request.answers[0]["value"] == "13"
