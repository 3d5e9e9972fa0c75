"""The organisation's monitoring settings page: the private-address policy."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.audit.models import AuditEntry
from buttress.monitoring import checking
from buttress.monitoring.models import MonitoringSettings

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(org) -> str:
    return reverse("monitoring:settings", kwargs={"org_id": org.pk})


def test_a_provider_admin_sets_the_policy_and_it_is_audited(admin_user, org):
    response = _client(admin_user).post(_url(org), {"private_targets": "allowed"})

    assert response.status_code == 302
    assert checking.policies([org.pk]) == {org.pk: "allowed"}
    entry = AuditEntry.objects.get(object_type="monitoring.monitoringsettings")
    assert entry.changes == {"private_targets": ["staff", "allowed"]}
    assert entry.organization_id == org.pk


def test_the_form_saves_in_place_with_htmx(admin_user, org):
    response = _client(admin_user).post(_url(org), {"private_targets": "refused"}, headers=HTMX)

    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="monitoring-settings"' in text
    assert "<html" not in text
    assert "Private targets: refused for every monitor." in text
    assert MonitoringSettings.objects.get(organization=org).private_targets == "refused"


def test_an_unknown_policy_is_shown_on_the_field(admin_user, org):
    response = _client(admin_user).post(_url(org), {"private_targets": "sometimes"}, headers=HTMX)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not MonitoringSettings.objects.exists()


def test_agents_and_customers_read_the_policy_but_may_not_change_it(agent, org_admin, org):
    for user in (agent, org_admin):
        client = _client(user)
        page = client.get(_url(org))
        assert page.status_code == 200
        assert "Only monitors set up by provider staff" in page.content.decode()
        assert 'name="private_targets"' not in page.content.decode()
        assert client.post(_url(org), {"private_targets": "allowed"}).status_code == 403
    assert not MonitoringSettings.objects.exists()


def test_another_organisations_settings_answer_404(org_admin, other_org):
    client = _client(org_admin)

    assert client.get(_url(other_org)).status_code == 404
    assert client.post(_url(other_org), {"private_targets": "allowed"}).status_code == 404


def test_the_organisation_page_links_to_its_monitoring_settings(admin_user, org):
    page = _client(admin_user).get(reverse("tenancy:org_detail", kwargs={"slug": org.slug}))

    assert _url(org) in page.content.decode()


def test_an_admin_chooses_whether_recoveries_resolve_incidents(admin_user, org, settings):
    settings.MONITORING_RESOLVE_INCIDENTS = True
    client = _client(admin_user)
    page = client.get(_url(org)).content.decode()
    assert "The installation&#x27;s default (now: resolve)" in page

    response = client.post(
        _url(org), {"private_targets": "staff", "resolve_incidents": "keep_open"}, headers=HTMX
    )

    assert "A monitor&#x27;s recovery keeps its incident open." in response.content.decode()
    assert MonitoringSettings.objects.get(organization=org).resolve_incidents is False
    entry = AuditEntry.objects.get(object_type="monitoring.monitoringsettings")
    assert entry.changes == {"resolve_incidents": [None, False]}

    client.post(_url(org), {"private_targets": "staff", "resolve_incidents": ""})
    assert MonitoringSettings.objects.get(organization=org).resolve_incidents is None


def test_readers_see_what_a_recovery_does(agent, org, settings):
    settings.MONITORING_RESOLVE_INCIDENTS = False

    page = _client(agent).get(_url(org)).content.decode()

    assert "its incident stays open for an agent (the installation's default)" in page
