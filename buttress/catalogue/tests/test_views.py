"""The staff catalogue pages with their in-place field editor, and the portal's catalogue."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.catalogue import services
from buttress.catalogue.models import CatalogueField, CatalogueItem, CatalogueRequest
from buttress.desk import services as desk
from buttress.desk.models import Attachment, Ticket
from buttress.testing.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


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
    services.add_field(item, actor=agent, key="seats", label="How many", kind="number")
    return item


@pytest.fixture
def customer(org, end_user):
    end_user.contact = ContactFactory.create(organization=org, email=end_user.email)
    end_user.save()
    return end_user


def test_staff_add_an_item_and_land_on_its_form_editor(client, agent, org):
    client.force_login(agent)

    response = client.post(
        reverse("catalogue:create"),
        {
            "organization": str(org.pk),
            "name": "VPN access",
            "ticket_type": "service_request",
            "impact": "low",
            "urgency": "medium",
            "position": "0",
            "is_active": "on",
        },
    )

    item = CatalogueItem.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("catalogue:detail", kwargs={"item_id": item.pk})
    assert item.organization == org
    assert item.impact == "low"


def test_a_limited_agent_cannot_add_an_item_offered_to_everyone(client, agent, org):
    agent.limited_to.add(org)
    client.force_login(agent)

    response = client.post(
        reverse("catalogue:create"),
        {
            "name": "Shared",
            "ticket_type": "incident",
            "impact": "low",
            "urgency": "low",
            "position": "0",
        },
    )

    assert response.status_code == 200
    assert "limited to no organisation" in response.content.decode()
    assert not CatalogueItem.objects.exists()


def test_the_field_editor_adds_a_field_in_place(client, agent, laptop):
    client.force_login(agent)

    response = client.post(
        reverse("catalogue:field_add", kwargs={"item_id": laptop.pk}),
        {"label": "Cost centre", "key": "cost_centre", "kind": "text", "required": "on"},
        headers=HTMX,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="catalogue-fields"' in page
    assert "<html" not in page
    assert "cost_centre" in page
    assert laptop.fields.get(key="cost_centre").required


def test_the_field_editor_shows_a_duplicate_key_next_to_the_field(client, agent, laptop):
    client.force_login(agent)

    response = client.post(
        reverse("catalogue:field_add", kwargs={"item_id": laptop.pk}),
        {"label": "Model again", "key": "model", "kind": "text"},
        headers=HTMX,
    )

    assert "already has a field with the key" in response.content.decode()
    assert laptop.fields.count() == 2


def test_the_field_editor_edits_moves_and_deletes(client, agent, laptop):
    client.force_login(agent)
    seats = laptop.fields.get(key="seats")
    edit = reverse("catalogue:field_edit", kwargs={"item_id": laptop.pk, "field_id": seats.pk})

    form = client.get(edit, headers=HTMX)
    client.post(edit, {"label": "Seats", "key": "seats", "kind": "number"}, headers=HTMX)
    client.post(
        reverse("catalogue:field_move", kwargs={"item_id": laptop.pk, "field_id": seats.pk}),
        {"direction": "up"},
        headers=HTMX,
    )

    assert 'name="label"' in form.content.decode()
    assert list(laptop.fields.values_list("label", flat=True)) == ["Seats", "Model"]
    client.post(
        reverse("catalogue:field_delete", kwargs={"item_id": laptop.pk, "field_id": seats.pk}),
        headers=HTMX,
    )
    assert not CatalogueField.objects.filter(pk=seats.pk).exists()


def test_a_viewer_sees_the_form_but_cannot_change_it(client, viewer, laptop):
    client.force_login(viewer)

    page = client.get(reverse("catalogue:detail", kwargs={"item_id": laptop.pk}))
    added = client.post(
        reverse("catalogue:field_add", kwargs={"item_id": laptop.pk}),
        {"label": "X", "key": "x", "kind": "text"},
    )

    assert page.status_code == 200
    assert "Add a field" not in page.content.decode()
    assert added.status_code == 403


def test_customers_are_kept_out_of_the_staff_pages(client, customer):
    client.force_login(customer)

    assert client.get(reverse("catalogue:list")).status_code == 403


def test_the_portal_lists_own_and_shared_items_but_not_another_organisations(
    client, customer, laptop, agent, other_org
):
    services.create_item(actor=agent, organization=None, name="Password reset")
    services.create_item(actor=agent, organization=other_org, name="Their printer")
    services.create_item(actor=agent, organization=laptop.organization, name="Old", is_active=False)
    client.force_login(customer)

    page = client.get(reverse("catalogue_portal:list")).content.decode()

    assert "New laptop" in page
    assert "Password reset" in page
    assert "Their printer" not in page
    assert "Old" not in page


def test_a_customer_sends_a_form_with_a_file_and_lands_on_the_request(client, customer, laptop):
    client.force_login(customer)

    response = client.post(
        reverse("catalogue_portal:request", kwargs={"item_id": laptop.pk}),
        {
            "summary": "for Sam",
            "f_model": "15",
            "f_seats": "2",
            "details": "Before Monday please.",
            "upload": SimpleUploadedFile("quote.txt", b"price"),
        },
    )

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("portal:detail", kwargs={"pk": ticket.pk})
    assert ticket.subject == "New laptop: for Sam"
    assert CatalogueRequest.objects.get(ticket=ticket).answers[1]["value"] == 2
    assert Attachment.objects.filter(ticket=ticket).count() == 1


def test_the_portal_form_shows_each_problem_next_to_its_field(client, customer, laptop):
    client.force_login(customer)

    response = client.post(
        reverse("catalogue_portal:request", kwargs={"item_id": laptop.pk}),
        {"f_model": "", "f_seats": "lots"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in page
    assert "Give a number." in page
    assert not Ticket.objects.exists()


def test_an_inactive_item_is_not_found_in_the_portal(client, customer, laptop, agent):
    services.update_item(laptop, actor=agent, is_active=False)
    client.force_login(customer)

    response = client.get(reverse("catalogue_portal:request", kwargs={"item_id": laptop.pk}))

    assert response.status_code == 404


def test_staff_are_sent_to_the_workspace_from_the_portal_catalogue(client, agent, laptop):
    client.force_login(agent)

    response = client.get(reverse("catalogue_portal:request", kwargs={"item_id": laptop.pk}))

    assert response.status_code == 403


def test_the_agents_ticket_page_shows_the_answers(client, customer, laptop, agent):
    request = services.submit_request(laptop, actor=customer, answers={"model": "13"})
    client.force_login(agent)

    page = client.get(reverse("desk:detail", kwargs={"pk": request.ticket_id})).content.decode()

    assert "Requested: New laptop" in page
    assert "<dt>Model</dt><dd>13</dd>" in page


def test_an_ordinary_ticket_page_has_no_answers_section(client, org, agent):
    ticket = desk.create_ticket(org, actor=agent, subject="Printer jammed")
    client.force_login(agent)

    page = client.get(reverse("desk:detail", kwargs={"pk": ticket.pk})).content.decode()

    assert "Requested:" not in page


def test_an_end_user_without_the_item_cannot_send_it_through_a_colleagues_account(
    client, org, laptop
):
    colleague = UserFactory.create(role=Role.END_USER, organization=org)
    client.force_login(colleague)

    response = client.post(
        reverse("catalogue_portal:request", kwargs={"item_id": laptop.pk}), {"f_model": "13"}
    )

    # No contact: the request opens without a requester but is still the colleague's own.
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert ticket.created_by == colleague
