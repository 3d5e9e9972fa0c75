"""/api/v1/catalogue: items, their fields, sending a form, and a ticket's answers."""

from __future__ import annotations

import pytest

from buttress.api.tests.conftest import api_as
from buttress.catalogue import services
from buttress.catalogue.models import CatalogueItem
from buttress.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def laptop(org, agent):
    item = services.create_item(actor=agent, organization=org, name="New laptop")
    services.add_field(
        item,
        actor=agent,
        key="model",
        label="Model",
        kind="choice",
        required=True,
        choices=["13", "15"],
    )
    return item


@pytest.fixture
def customer(org, end_user):
    end_user.contact = ContactFactory.create(organization=org, email=end_user.email)
    end_user.save()
    return end_user


def test_staff_create_an_item_and_its_fields(agent, org):
    api = api_as(agent)

    item = api.post("/catalogue/items", {"organization": org.pk, "name": "VPN"})
    field = api.post(
        f"/catalogue/items/{item.json()['id']}/fields",
        {"key": "reason", "label": "Why", "kind": "textarea", "required": True},
    )

    assert item.status_code == 201
    assert field.status_code == 201
    listed = api.get(f"/catalogue/items/{item.json()['id']}").json()
    assert [f["key"] for f in listed["fields"]] == ["reason"]


def test_a_choice_field_without_choices_is_a_400_naming_the_field(agent, laptop):
    response = api_as(agent).post(
        f"/catalogue/items/{laptop.pk}/fields",
        {"key": "colour", "label": "Colour", "kind": "choice"},
    )

    assert response.status_code == 400
    assert "choices" in response.json()["detail"]


def test_a_duplicate_key_on_update_is_a_400(agent, laptop):
    api = api_as(agent)
    other = api.post(f"/catalogue/items/{laptop.pk}/fields", {"key": "note", "label": "Note"})

    response = api.patch(
        f"/catalogue/items/{laptop.pk}/fields/{other.json()['id']}", {"key": "model"}
    )

    assert response.status_code == 400
    assert "key" in response.json()["detail"]


def test_customers_list_only_what_is_offered_to_them(customer, laptop, agent, other_org):
    services.create_item(actor=agent, organization=other_org, name="Theirs")
    services.create_item(actor=agent, organization=laptop.organization, name="Off", is_active=False)

    names = [i["name"] for i in api_as(customer).get("/catalogue/items").json()["items"]]

    assert names == ["New laptop"]


def test_customers_cannot_change_the_catalogue(customer, laptop):
    response = api_as(customer).patch(f"/catalogue/items/{laptop.pk}", {"name": "Mine now"})

    assert response.status_code == 403


def test_a_customer_sends_the_form_and_the_agent_reads_the_answers(customer, laptop, agent):
    sent = api_as(customer).post(
        f"/catalogue/items/{laptop.pk}/requests", {"answers": {"model": "15"}, "summary": "Sam"}
    )
    ticket_id = sent.json()["ticket"]

    answers = api_as(agent).get(f"/tickets/{ticket_id}/catalogue-request")

    assert sent.status_code == 201
    assert answers.status_code == 200
    assert answers.json()["item_name"] == "New laptop"
    assert answers.json()["answers"] == [
        {"key": "model", "label": "Model", "kind": "choice", "value": "15"}
    ]


def test_a_bad_answer_is_a_400_naming_its_key(customer, laptop):
    response = api_as(customer).post(
        f"/catalogue/items/{laptop.pk}/requests", {"answers": {"model": "17"}}
    )

    assert response.status_code == 400
    assert "model" in response.json()["detail"]


def test_staff_cannot_send_a_customers_form(agent, laptop):
    response = api_as(agent).post(
        f"/catalogue/items/{laptop.pk}/requests", {"answers": {"model": "15"}}
    )

    assert response.status_code == 403


def test_a_ticket_not_from_the_catalogue_has_no_answers(agent, org):
    from buttress.desk import services as desk

    ticket = desk.create_ticket(org, actor=agent, subject="Printer")

    assert api_as(agent).get(f"/tickets/{ticket.pk}/catalogue-request").status_code == 404


def test_deleting_an_item(agent, laptop):
    assert api_as(agent).delete(f"/catalogue/items/{laptop.pk}").status_code == 204
    assert not CatalogueItem.objects.exists()
