"""/integrations and /incidents/{id}/alerts."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buttress.alerts.models import Integration
from buttress.alerts.tests.helpers import (
    ALERTMANAGER,
    alert,
    group,
    make_integration,
    post,
    process_pending,
)
from buttress.audit.models import AuditEntry
from buttress.desk.models import Ticket
from buttress.testing.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_agent_creates_an_integration_and_sees_its_key_and_url_once(as_agent, org):
    response = as_agent.post(
        "/integrations",
        {"organization": org.pk, "name": "Prod Alertmanager", "kind": "alertmanager"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    key = body["key"]
    assert len(key) == 42
    assert key.isalnum()
    assert body["url"] == f"{settings.BASE_URL}/hooks/alertmanager/{key}"
    assert body["key_prefix"] == key[:10]
    assert (body["organization"], body["kind"], body["is_enabled"]) == (
        org.pk,
        "alertmanager",
        True,
    )

    shown = as_agent.get(f"/integrations/{body['id']}").json()
    assert "key" not in shown
    assert shown["url"] == f"{settings.BASE_URL}/hooks/alertmanager/{{key}}"
    assert key not in str(Integration.objects.values().get())
    assert post(body["url"].removeprefix(settings.BASE_URL), ALERTMANAGER).status_code == 202


def test_urls_per_kind(as_agent, org):
    urls = {}
    for kind in ("grafana", "prometheus", "generic", "pagerduty", "email"):
        body = as_agent.post(
            "/integrations", {"organization": org.pk, "name": kind, "kind": kind}
        ).json()
        urls[kind] = body["url"].removeprefix(settings.BASE_URL).replace(body["key"], "K")

    assert urls == {
        "grafana": "/hooks/grafana/K",
        "prometheus": "/hooks/K/api/v2/alerts",
        "generic": "/hooks/generic/K",
        "pagerduty": "/v2/enqueue",
        # Mailed, not posted to: the alerts address tagged with the key.
        "email": "alerts+K@localhost",
    }


def test_create_is_audited(as_agent, org):
    body = as_agent.post(
        "/integrations", {"organization": org.pk, "name": "AM", "kind": "alertmanager"}
    ).json()

    entry = AuditEntry.objects.get(object_type="alerts.integration", action="create")
    assert entry.object_id == str(body["id"])
    assert body["key"] not in str(entry.changes)


def test_list_filters_by_organisation_and_kind(as_agent, org):
    other = OrganizationFactory.create(slug="other")
    make_integration(org, "alertmanager")
    make_integration(org, "grafana")
    make_integration(other, "grafana")

    mine = as_agent.get("/integrations", organization=org.pk).json()["items"]
    grafana = as_agent.get("/integrations", kind="grafana").json()["items"]

    assert {i["kind"] for i in mine} == {"alertmanager", "grafana"}
    assert len(grafana) == 2


def test_list_is_a_constant_number_of_queries(as_agent, org):
    for _ in range(3):
        make_integration(org, "alertmanager")
    as_agent.get("/integrations")  # the token's first use is written once
    with CaptureQueriesContext(connection) as few:
        as_agent.get("/integrations")
    for _ in range(10):
        make_integration(org, "grafana")
    with CaptureQueriesContext(connection) as many:
        as_agent.get("/integrations")

    assert len(many) == len(few)


def test_patch_disables_and_changes_the_limit(as_agent, org):
    integration, key = make_integration(org, "alertmanager")

    response = as_agent.patch(
        f"/integrations/{integration.pk}", {"is_enabled": False, "rate_limit_per_minute": 5}
    )

    assert response.status_code == 200, response.content
    assert (response.json()["is_enabled"], response.json()["rate_limit_per_minute"]) == (False, 5)
    assert post(f"/hooks/alertmanager/{key}", ALERTMANAGER).status_code == 403


def test_generic_mapping_is_validated(as_agent, org):
    response = as_agent.post(
        "/integrations",
        {"organization": org.pk, "name": "G", "kind": "generic", "mapping": {"summary": "a.["}},
    )

    assert response.status_code == 400
    assert "mapping" in response.json()["detail"]


def test_mapping_on_a_non_generic_integration_is_refused(as_agent, org):
    response = as_agent.post(
        "/integrations",
        {"organization": org.pk, "name": "A", "kind": "alertmanager", "mapping": {"summary": "x"}},
    )

    assert response.status_code == 400
    assert response.json()["detail"]["mapping"] == [
        "A field mapping applies only to generic integrations."
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("group_window_minutes", 0), ("rate_limit_per_minute", -1), ("group_by", [""])],
)
def test_bad_settings_are_400_naming_the_field(as_agent, org, field, value):
    response = as_agent.post(
        "/integrations", {"organization": org.pk, "name": "A", "kind": "alertmanager", field: value}
    )

    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_unknown_kind_is_refused(as_agent, org):
    response = as_agent.post("/integrations", {"organization": org.pk, "name": "A", "kind": "fax"})

    assert response.status_code == 422


def test_rotate_key_shows_a_new_working_key(as_agent, org):
    integration, old = make_integration(org, "generic")

    response = as_agent.post(f"/integrations/{integration.pk}/rotate-key")

    new = response.json()["key"]
    assert response.status_code == 200
    assert new != old
    assert response.json()["url"].endswith(f"/hooks/generic/{new}")
    assert post(f"/hooks/generic/{old}", {"summary": "x"}).status_code == 404
    assert post(f"/hooks/generic/{new}", {"summary": "x"}).status_code == 202
    assert AuditEntry.objects.filter(action="security", object_type="alerts.integration").exists()


def test_delete_keeps_alerts_and_incidents(as_agent, org):
    integration, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    process_pending()

    response = as_agent.delete(f"/integrations/{integration.pk}")

    assert response.status_code == 204
    assert not Integration.objects.exists()
    ticket = Ticket.objects.get()
    alerts = as_agent.get(f"/incidents/{ticket.pk}/alerts").json()["items"]
    assert [(a["integration"], a["fingerprint"]) for a in alerts] == [(None, "5c2b6f1a0d3e4b77")]


def test_viewer_reads_but_cannot_change(as_viewer, org):
    integration, _ = make_integration(org, "alertmanager")

    assert as_viewer.get(f"/integrations/{integration.pk}").status_code == 200
    assert as_viewer.patch(f"/integrations/{integration.pk}", {"name": "x"}).status_code == 403
    response = as_viewer.post(
        "/integrations", {"organization": org.pk, "name": "A", "kind": "alertmanager"}
    )
    assert response.status_code == 403


def test_org_admin_sees_own_integrations_only(as_org_admin, org):
    other = OrganizationFactory.create(slug="other")
    mine, _ = make_integration(org, "alertmanager")
    theirs, _ = make_integration(other, "alertmanager")

    listed = as_org_admin.get("/integrations").json()["items"]

    assert [i["id"] for i in listed] == [mine.pk]
    assert as_org_admin.get(f"/integrations/{theirs.pk}").status_code == 404
    assert as_org_admin.post(f"/integrations/{mine.pk}/rotate-key").status_code == 403


def test_read_token_cannot_create(agent, org):
    from buttress.api.tests.conftest import api_as

    client = api_as(agent, scope="read")

    response = client.post(
        "/integrations", {"organization": org.pk, "name": "A", "kind": "alertmanager"}
    )

    assert response.status_code == 403


def test_incident_alerts_lists_the_alerts_of_the_incident(as_agent, org):
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", group(alert(instance="a"), alert(instance="b")))
    process_pending()
    ticket = Ticket.objects.get()

    response = as_agent.get(f"/incidents/{ticket.pk}/alerts")

    assert response.status_code == 200
    items = response.json()["items"]
    assert {a["labels"]["instance"] for a in items} == {"a", "b"}
    assert all(a["incident"] == ticket.pk and a["status"] == "firing" for a in items)
    assert items[0]["links"] == {"generator": "http://prometheus:9090/graph"}


def test_incident_alerts_of_another_organisation_are_404(as_org_admin, org):
    other = OrganizationFactory.create(slug="other")
    _, key = make_integration(other, "alertmanager")
    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    process_pending()

    response = as_org_admin.get(f"/incidents/{Ticket.objects.get().pk}/alerts")

    assert response.status_code == 404


def test_openapi_keeps_integration_kinds_apart_from_asset_kinds():
    from buttress.alerts.models import IntegrationKind
    from buttress.api.v1 import api
    from buttress.assets.models import Kind as AssetKind

    components = api.get_openapi_schema()["components"]["schemas"]

    assert components["IntegrationKind"]["enum"] == IntegrationKind.values
    assert components["Kind"]["enum"] == AssetKind.values
