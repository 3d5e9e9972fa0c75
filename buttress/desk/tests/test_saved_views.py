"""Saved queue views: keep filters under a name, share them, use them, delete them."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from buttress.api.tests.conftest import api_as
from buttress.desk import services as desk
from buttress.desk.models import SavedView
from buttress.desk.services import saved_views

pytestmark = pytest.mark.django_db


def test_saving_keeps_only_queue_filters_and_the_same_name_replaces(agent):
    first = saved_views.save_view(agent, name="Mine", query={"status": "new", "priority": "P1"})
    again = saved_views.save_view(agent, name="mine", query={"sla": "breached"})

    assert again.pk == first.pk
    assert again.query == {"sla": "breached"}
    with pytest.raises(ValidationError):
        saved_views.save_view(agent, name="Bad", query={"drop": "table"})
    with pytest.raises(ValidationError):
        saved_views.save_view(agent, name="  ", query={})


def test_only_admins_share_and_only_owners_delete(agent, admin_user):
    with pytest.raises(ValidationError):
        saved_views.save_view(agent, name="For all", query={}, shared=True)
    shared = saved_views.save_view(
        admin_user, name="Breached", query={"sla": "breached"}, shared=True
    )

    with pytest.raises(PermissionDenied):
        saved_views.delete_view(shared, actor=agent)
    saved_views.delete_view(shared, actor=admin_user)
    assert not SavedView.objects.exists()


def test_queue_saves_the_current_filters_and_lists_the_view(client: Client, agent, org):
    desk.create_ticket(org, actor=agent, subject="Urgent printer", impact="high", urgency="high")
    client.force_login(agent)

    response = client.post(
        reverse("desk:view_save"), {"name": "P1s", "query": "?priority=P1&status=open_any&junk=1"}
    )

    view = SavedView.objects.get()
    assert view.query == {"priority": "P1", "status": "open_any"}
    assert response.status_code == 302
    page = client.get(reverse("desk:list")).text
    assert "P1s" in page
    assert "priority=P1" in page


def test_queue_reports_a_view_that_cannot_be_saved(client: Client, agent):
    client.force_login(agent)

    response = client.post(
        reverse("desk:view_save"), {"name": "", "query": "status=new"}, follow=True
    )

    assert "View not saved" in response.text
    assert not SavedView.objects.exists()


def test_another_users_private_view_is_not_found(client: Client, agent, admin_user):
    theirs = saved_views.save_view(admin_user, name="Private", query={})
    client.force_login(agent)

    assert client.post(reverse("desk:view_delete", args=[theirs.pk])).status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()


def test_api_lists_saves_and_deletes_views(agent, admin_user):
    saved_views.save_view(admin_user, name="Team queue", query={"team": "3"}, shared=True)
    api = api_as(agent)

    created = api.post("/ticket-views", {"name": "Mine", "query": {"assignee": "me"}})
    listed = api.get("/ticket-views").json()
    refused = api_as(agent, raise_errors=False).post(
        "/ticket-views", {"name": "All", "query": {}, "is_shared": True}
    )
    deleted = api.delete(f"/ticket-views/{created.json()['id']}")

    assert created.status_code == 201
    assert {v["name"] for v in listed} == {"Mine", "Team queue"}
    assert refused.status_code in (400, 422)
    assert "is_shared" in refused.text
    assert deleted.status_code == 204


def test_customers_have_no_saved_views(end_user):
    response = api_as(end_user, raise_errors=False).get("/ticket-views")

    assert response.status_code == 403
