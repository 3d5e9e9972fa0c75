"""The priority matrix page: staff read it, unrestricted admins change it in place."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.audit.models import AuditEntry
from buttress.desk import services
from buttress.desk.models import DEFAULT_MATRIX, Level

pytestmark = pytest.mark.django_db

URL = reverse("desk:priority_matrix")
HTMX = {"HX-Request": "true"}


def _form(**overrides: str) -> dict[str, str]:
    return {
        f"{i}_{u}": overrides.get(f"{i}_{u}", str(DEFAULT_MATRIX[(i, u)]))
        for i in Level.values
        for u in Level.values
    }


def test_an_admin_saves_the_matrix_and_it_is_audited(client: Client, admin_user, org, agent):
    client.force_login(admin_user)

    response = client.post(URL, _form(low_low="P3"))

    assert response.status_code == 302
    assert services.priority_matrix()[("low", "low")] == "P3"
    assert (
        services.create_ticket(org, actor=agent, subject="x", impact="low", urgency="low").priority
        == "P3"
    )
    entry = AuditEntry.objects.get(object_type="desk.priorityrule")
    assert entry.changes == {"priority": ["P4", "P3"]}
    assert entry.actor_id == admin_user.pk


def test_the_form_saves_in_place_with_htmx(client: Client, admin_user):
    client.force_login(admin_user)

    response = client.post(URL, _form(high_low="P2"), headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="priority-matrix"' in html
    assert "<html" not in html
    assert "Priority matrix saved (high x low)" in html
    assert "(default P3)" in html


def test_a_bad_cell_is_shown_on_its_field_and_nothing_is_saved(client: Client, admin_user):
    client.force_login(admin_user)

    response = client.post(URL, _form(high_low="P2", low_low="P9"), headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice. P9 is not one of the available choices." in html
    assert services.priority_matrix()[("high", "low")] == "P3"
    assert not AuditEntry.objects.filter(object_type="desk.priorityrule").exists()


def test_agents_read_the_matrix_but_may_not_change_it(client: Client, agent, admin_user):
    services.set_priority_rule(actor=admin_user, impact="low", urgency="low", priority="P3")
    client.force_login(agent)

    page = client.get(URL)

    html = page.content.decode()
    assert page.status_code == 200
    assert "(default P4)" in html
    assert 'name="low_low"' not in html
    assert client.post(URL, _form(low_low="P1")).status_code == 403
    assert services.priority_matrix()[("low", "low")] == "P3"


def test_an_admin_limited_to_an_organisation_may_not_change_it(client: Client, admin_user, org):
    admin_user.limited_to.set([org])
    client.force_login(admin_user)

    assert 'name="low_low"' not in client.get(URL).content.decode()
    assert client.post(URL, _form(low_low="P1")).status_code == 403


def test_customers_are_refused(client: Client, org_admin):
    client.force_login(org_admin)

    assert client.get(URL).status_code == 403


def test_the_queue_links_to_the_matrix(client: Client, agent):
    client.force_login(agent)

    assert URL in client.get(reverse("desk:list")).content.decode()
