"""The incident panel on the ticket page, the postmortem page, and the portal's updates."""

from __future__ import annotations

import pytest
from django.urls import reverse

from buttress.desk import services as desk
from buttress.response import services
from buttress.response.models import Incident, RoleAssignment, StatusUpdate

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_the_incident_panel_is_on_an_incident_tickets_page(client, agent, outage):
    client.force_login(agent)

    page = client.get(reverse("desk:detail", kwargs={"pk": outage.pk})).content.decode()

    assert 'id="incident-panel"' in page
    assert reverse("response:postmortem", kwargs={"ticket_id": outage.pk}) in page


def test_other_tickets_have_no_incident_panel(client, agent, org):
    request = desk.create_ticket(org, actor=agent, subject="Laptop", type="service_request")
    client.force_login(agent)

    page = client.get(reverse("desk:detail", kwargs={"pk": request.pk})).content.decode()

    assert 'id="incident-panel"' not in page


def test_setting_severity_redraws_the_panel_in_place(client, agent, outage):
    client.force_login(agent)

    response = client.post(
        reverse("response:severity", kwargs={"ticket_id": outage.pk}),
        {"severity": "SEV1", "reason": "everyone"},
        headers=HTMX,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section class="card incident-panel"')
    assert "severity unset → SEV1 (everyone)" in page
    assert Incident.objects.get().severity == "SEV1"


def test_assigning_a_role_from_the_panel(client, agent, outage):
    client.force_login(agent)

    client.post(
        reverse("response:assign_role", kwargs={"ticket_id": outage.pk}),
        {"role": "commander", "user": agent.pk},
        headers=HTMX,
    )

    assert RoleAssignment.objects.get().user == agent


def test_a_bad_update_shows_the_error_on_the_panel(client, agent, outage):
    client.force_login(agent)

    response = client.post(
        reverse("response:update", kwargs={"ticket_id": outage.pk}),
        {"visibility": "customer", "phase": "identified", "body": ""},
        headers=HTMX,
    )

    assert "This field is required." in response.content.decode()
    assert not StatusUpdate.objects.exists()


def test_a_viewer_cannot_change_incident_work(client, viewer, outage):
    client.force_login(viewer)

    response = client.post(
        reverse("response:severity", kwargs={"ticket_id": outage.pk}), {"severity": "SEV1"}
    )

    assert response.status_code == 403


def test_customers_are_kept_out_of_incident_work(client, org_admin, outage):
    client.force_login(org_admin)

    assert (
        client.get(reverse("response:postmortem", kwargs={"ticket_id": outage.pk})).status_code
        == 403
    )


def test_the_postmortem_page_starts_its_timeline_from_the_log_and_saves(client, agent, outage):
    services.set_severity(outage, "SEV2", actor=agent)
    client.force_login(agent)
    url = reverse("response:postmortem", kwargs={"ticket_id": outage.pk})

    page = client.get(url).content.decode()
    saved = client.post(url, {"summary": "Mail was down", "impact": "All staff"})

    assert "severity unset → SEV2" in page
    assert saved.status_code == 302
    assert outage.incident.postmortem.impact == "All staff"


def test_an_action_item_is_added_and_opened_as_a_problem_from_the_page(client, agent, outage):
    client.force_login(agent)

    client.post(
        reverse("response:add_action", kwargs={"ticket_id": outage.pk}),
        {"description": "Alert on cert expiry"},
    )
    item = outage.incident.postmortem.action_items.get()
    client.post(
        reverse("response:convert_action", kwargs={"ticket_id": outage.pk, "action_id": item.pk}),
        {"kind": "problem"},
    )

    item.refresh_from_db()
    assert item.ticket is not None
    assert item.ticket.type == "problem"
    page = client.get(reverse("response:postmortem", kwargs={"ticket_id": outage.pk}))
    assert item.ticket.reference in page.content.decode()


def test_the_portal_shows_customer_facing_updates_only(client, agent, outage, end_user, requester):
    end_user.contact = requester
    end_user.save()
    services.post_status_update(outage, body="We are on it", visibility="customer", actor=agent)
    services.post_status_update(outage, body="Blame the DNS vendor", actor=agent)
    client.force_login(end_user)

    page = client.get(reverse("portal:detail", kwargs={"pk": outage.pk})).content.decode()

    assert "We are on it" in page
    assert "Blame the DNS vendor" not in page


def test_the_panels_forms_carry_the_csrf_token_and_their_own_ids(client, agent, outage):
    client.force_login(agent)

    page = client.get(reverse("desk:detail", kwargs={"pk": outage.pk})).content.decode()

    panel = page[page.index('id="incident-panel"') :]
    severity_form = panel[: panel.index("</form>")]
    assert "csrfmiddlewaretoken" in severity_form
    assert 'id="incident-severity"' in severity_form
