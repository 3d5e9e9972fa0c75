"""The ingestion endpoints: each format accepted and recorded, every kind of bad input refused
with the right status and a message, never a 500."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import time_machine
from django_tasks_db.models import DBTaskResult

from buttress.alerts import services
from buttress.alerts.models import MAX_BODY_BYTES, Alert, Delivery
from buttress.alerts.tests.helpers import (
    ALERTMANAGER,
    GRAFANA,
    PAGERDUTY,
    PROMETHEUS,
    make_integration,
    payload,
    post,
    process_pending,
)
from buttress.desk.models import Ticket
from buttress.intake.testing import IntakeClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["django", "intake"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs against the Django views and against the intake server (same answers)."""
    if request.param == "intake":
        client = IntakeClient()

        def via_intake(path: str, body: Any, *, content_type: str = "application/json") -> Any:
            data = body if isinstance(body, bytes | str) else json.dumps(body)
            return client.post(path, data=data, content_type=content_type)

        monkeypatch.setattr(sys.modules[__name__], "post", via_intake)
    return str(request.param)


# --- accepted --------------------------------------------------------------------------------


def test_alertmanager_webhook_is_recorded_and_answered_202(org):
    integration, key = make_integration(org, "alertmanager")

    response = post(f"/hooks/alertmanager/{key}", ALERTMANAGER)

    assert response.status_code == 202
    assert response.json()["alerts"] == 1
    delivery = Delivery.objects.get()
    assert delivery.integration == integration
    assert delivery.organization == org
    assert json.loads(delivery.body) == ALERTMANAGER
    assert delivery.content_type == "application/json"
    assert delivery.processed_at is None
    assert delivery.process_due_at is not None
    assert not Alert.objects.exists()  # processing happens after the answer


def test_recording_queues_the_processing_task_with_the_delivery_claim(org, db_task_backend):
    _, key = make_integration(org, "alertmanager")

    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)

    delivery = Delivery.objects.get()
    assert delivery.process_due_at is not None
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "buttress.alerts.tasks.process_delivery"
    assert queued.args_kwargs["args"] == [delivery.pk, delivery.process_due_at.isoformat()]


def test_grafana_webhook_is_accepted(org):
    _, key = make_integration(org, "grafana")

    response = post(f"/hooks/grafana/{key}", GRAFANA)

    assert response.status_code == 202
    assert Delivery.objects.count() == 1


def test_prometheus_direct_answers_200(org):
    _, key = make_integration(org, "prometheus")

    response = post(f"/hooks/{key}/api/v2/alerts", PROMETHEUS)

    assert response.status_code == 200
    assert Delivery.objects.count() == 1


def test_generic_webhook_is_accepted(org):
    _, key = make_integration(org, "generic")

    response = post(f"/hooks/generic/{key}", {"title": "Backup failed", "status": "firing"})

    assert response.status_code == 202


def test_pagerduty_enqueue_answers_exactly_as_pagerduty(org):
    _, key = make_integration(org, "pagerduty")

    response = post("/v2/enqueue", {**PAGERDUTY, "routing_key": key})

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "srv1-disk",
    }


def test_pagerduty_trigger_without_dedup_key_gets_one_generated_and_used(org):
    _, key = make_integration(org, "pagerduty")
    event = payload(PAGERDUTY, routing_key=key)
    del event["dedup_key"]

    response = post("/v2/enqueue", event)
    process_pending()

    generated = response.json()["dedup_key"]
    assert response.status_code == 202
    assert len(generated) == 32
    assert Delivery.objects.get().generated_key == generated
    assert Alert.objects.get().fingerprint == generated


def test_json_with_a_charset_is_accepted(org):
    _, key = make_integration(org, "alertmanager")

    response = post(
        f"/hooks/alertmanager/{key}",
        json.dumps(ALERTMANAGER),
        content_type="application/json; charset=utf-8",
    )

    assert response.status_code == 202


# --- keys ------------------------------------------------------------------------------------


def test_unknown_key_is_404(org):
    make_integration(org, "alertmanager")

    response = post("/hooks/alertmanager/" + "x" * 42, ALERTMANAGER)

    assert response.status_code == 404
    assert response.json() == {"detail": "No integration has this key."}
    assert not Delivery.objects.exists()


def test_right_prefix_with_wrong_secret_is_404(org):
    _, key = make_integration(org, "alertmanager")
    forged = key[:10] + ("a" if key[10] != "a" else "b") + key[11:]

    assert post(f"/hooks/alertmanager/{forged}", ALERTMANAGER).status_code == 404


def test_unknown_pagerduty_routing_key_is_404(org):
    response = post("/v2/enqueue", {**PAGERDUTY, "routing_key": "nope"})

    assert response.status_code == 404
    assert response.json()["status"] == "unknown routing key"


def test_disabled_integration_is_403_and_not_recorded(org):
    integration, key = make_integration(org, "alertmanager")
    services.update_integration(integration, actor=None, is_enabled=False)

    response = post(f"/hooks/alertmanager/{key}", ALERTMANAGER)

    assert response.status_code == 403
    assert response.json() == {"detail": "This integration is disabled."}
    assert not Delivery.objects.exists()


def test_key_of_another_kind_is_400_naming_the_right_endpoint(org):
    _, key = make_integration(org, "grafana")

    response = post(f"/hooks/alertmanager/{key}", ALERTMANAGER)

    assert response.status_code == 400
    assert "/hooks/grafana/<key>" in response.json()["detail"]


def test_rotated_key_replaces_the_old_one(org):
    integration, old = make_integration(org, "alertmanager")

    new = services.rotate_key(integration, actor=None).key

    assert post(f"/hooks/alertmanager/{old}", ALERTMANAGER).status_code == 404
    assert post(f"/hooks/alertmanager/{new}", ALERTMANAGER).status_code == 202


def test_key_is_stored_only_as_a_hash(org):
    integration, key = make_integration(org, "alertmanager")

    integration.refresh_from_db()
    stored = json.dumps(
        [integration.key_prefix, integration.key_digest, integration.name, integration.mapping]
    )

    assert key not in stored
    assert key[10:] not in stored
    assert len(integration.key_digest) == 64


# --- bad input -------------------------------------------------------------------------------


def test_malformed_json_is_400(org):
    _, key = make_integration(org, "alertmanager")

    response = post(f"/hooks/alertmanager/{key}", '{"alerts": [')

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_invalid_utf8_is_400(org):
    _, key = make_integration(org, "alertmanager")

    response = post(f"/hooks/alertmanager/{key}", b'{"alerts": "\xff"}')

    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]


def test_nul_in_text_is_400(org):
    _, key = make_integration(org, "generic")

    response = post(f"/hooks/generic/{key}", {"summary": "a\u0000b"})

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_wrong_content_type_is_400(org):
    _, key = make_integration(org, "alertmanager")

    response = post(
        f"/hooks/alertmanager/{key}",
        "alerts=1",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert "application/json" in response.json()["detail"]


def test_body_over_512_kib_is_413(org):
    _, key = make_integration(org, "alertmanager")
    big = payload(ALERTMANAGER, padding="x" * MAX_BODY_BYTES)

    response = post(f"/hooks/alertmanager/{key}", big)

    assert response.status_code == 413
    assert "512 KiB" in response.json()["detail"]
    assert not Delivery.objects.exists()


def test_body_of_exactly_512_kib_is_accepted(org):
    _, key = make_integration(org, "alertmanager")
    text = json.dumps(payload(ALERTMANAGER, padding=""))
    body = text[:-1] + " " * (MAX_BODY_BYTES - len(text)) + "}"

    response = post(f"/hooks/alertmanager/{key}", body)

    assert len(body.encode()) == MAX_BODY_BYTES
    assert response.status_code == 202


def test_alertmanager_without_alerts_is_400_naming_it(org):
    _, key = make_integration(org, "alertmanager")

    response = post(f"/hooks/alertmanager/{key}", {"version": "4", "status": "firing"})

    assert response.status_code == 400
    assert response.json()["detail"] == "alerts is required."


def test_alertmanager_alert_missing_fields_names_each_of_them(org):
    _, key = make_integration(org, "alertmanager")
    body = payload(ALERTMANAGER, alerts=[{"annotations": {}}, {"labels": {"a": "b"}}])

    response = post(f"/hooks/alertmanager/{key}", body)

    errors = response.json()["errors"]
    assert response.status_code == 400
    assert "alerts[0].labels is required." in errors
    assert "alerts[0].status is required: firing or resolved." in errors
    assert "alerts[1].status is required: firing or resolved." in errors


def test_bad_time_is_400_naming_the_field(org):
    _, key = make_integration(org, "alertmanager")
    body = payload(ALERTMANAGER)
    body["alerts"][0]["startsAt"] = "yesterday"

    response = post(f"/hooks/alertmanager/{key}", body)

    assert response.status_code == 400
    assert "alerts[0].startsAt" in response.json()["detail"]


def test_prometheus_object_instead_of_list_is_400(org):
    _, key = make_integration(org, "prometheus")

    response = post(f"/hooks/{key}/api/v2/alerts", PROMETHEUS[0])

    assert response.status_code == 400
    assert "list" in response.json()["detail"]


def test_pagerduty_missing_fields_are_400_with_errors(org):
    _, key = make_integration(org, "pagerduty")
    event = {"routing_key": key, "event_action": "trigger", "payload": {"summary": "x"}}

    response = post("/v2/enqueue", event)

    answer = response.json()
    assert response.status_code == 400
    assert answer["status"] == "invalid event"
    assert answer["message"] == "Event object is invalid"
    assert "payload.source is required." in answer["errors"]
    assert any(e.startswith("payload.severity is required") for e in answer["errors"])


def test_pagerduty_resolve_without_dedup_key_is_400(org):
    _, key = make_integration(org, "pagerduty")

    response = post("/v2/enqueue", {"routing_key": key, "event_action": "resolve"})

    assert response.status_code == 400
    assert "dedup_key is required to resolve." in response.json()["errors"]


def test_pagerduty_missing_routing_key_is_400(org):
    response = post("/v2/enqueue", {"event_action": "trigger"})

    assert response.status_code == 400
    assert response.json()["errors"] == ["routing_key is required: the integration key."]


def test_pagerduty_limits_on_dedup_key_and_summary(org):
    _, key = make_integration(org, "pagerduty")
    event = payload(PAGERDUTY, routing_key=key, dedup_key="k" * 256)
    event["payload"]["summary"] = "s" * 1025

    errors = post("/v2/enqueue", event).json()["errors"]

    assert "dedup_key is longer than 255 characters." in errors
    assert "payload.summary is longer than 1024 characters." in errors


def test_generic_missing_summary_names_the_mapped_field(org):
    _, key = make_integration(org, "generic", mapping={"summary": "event.headline"})

    response = post(f"/hooks/generic/{key}", {"event": {"body": "x"}})

    assert response.status_code == 400
    assert "summary (mapped from 'event.headline') is required" in response.json()["detail"]


def test_hooks_need_no_csrf_token(org):
    from django.test import Client

    _, key = make_integration(org, "alertmanager")
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        f"/hooks/alertmanager/{key}", json.dumps(ALERTMANAGER), content_type="application/json"
    )
    enqueued = client.post(
        "/v2/enqueue",
        json.dumps({**PAGERDUTY, "routing_key": "x"}),
        content_type="application/json",
    )

    assert response.status_code == 202
    assert enqueued.status_code == 404


def test_email_integration_key_receives_no_webhooks(org):
    _, key = make_integration(org, "email")

    response = post(f"/hooks/generic/{key}", {"summary": "x"})

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "This key belongs to an integration of kind email: it receives no webhooks."
    )


def test_get_is_405_not_500(org, transport):
    from django.test import Client

    _, key = make_integration(org, "alertmanager")
    client = IntakeClient() if transport == "intake" else Client()

    assert client.get(f"/hooks/alertmanager/{key}").status_code == 405


# --- floods ----------------------------------------------------------------------------------


def test_flood_is_429_with_retry_after_per_integration(org):
    _, key = make_integration(org, "alertmanager", rate_limit_per_minute=3)
    _, other_key = make_integration(org, "alertmanager")

    with time_machine.travel("2026-08-22T10:00:20Z", tick=False):
        answers = [post(f"/hooks/alertmanager/{key}", ALERTMANAGER) for _ in range(5)]
        other = post(f"/hooks/alertmanager/{other_key}", ALERTMANAGER)

    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert answers[3]["Retry-After"] == "40"
    assert "Too many requests" in answers[3].json()["detail"]
    assert other.status_code == 202
    assert Delivery.objects.count() == 4


def test_flood_limit_opens_again_in_the_next_minute(org):
    _, key = make_integration(org, "alertmanager", rate_limit_per_minute=1)

    with time_machine.travel("2026-08-22T10:00:50Z", tick=False):
        first = post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
        refused = post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    with time_machine.travel("2026-08-22T10:01:01Z", tick=False):
        later = post(f"/hooks/alertmanager/{key}", ALERTMANAGER)

    assert (first.status_code, refused.status_code, later.status_code) == (202, 429, 202)
    assert refused["Retry-After"] == "10"


def test_pagerduty_flood_answers_throttle_event(org):
    _, key = make_integration(org, "pagerduty", rate_limit_per_minute=1)

    post("/v2/enqueue", {**PAGERDUTY, "routing_key": key})
    response = post("/v2/enqueue", {**PAGERDUTY, "routing_key": key})

    assert response.status_code == 429
    assert response.json()["status"] == "throttle event"
    assert int(response["Retry-After"]) >= 1


def test_invalid_requests_do_not_use_up_the_limit(org):
    _, key = make_integration(org, "alertmanager", rate_limit_per_minute=1)

    post(f"/hooks/alertmanager/{key}", {"bad": True})

    assert post(f"/hooks/alertmanager/{key}", ALERTMANAGER).status_code == 202


def test_a_flooding_integrations_processing_queues_behind_the_others(
    org, db_task_backend, settings
):
    settings.ALERTS_BUSY_DELIVERIES = 2
    _, storm = make_integration(org, "alertmanager")
    _, calm = make_integration(org, "alertmanager")

    with time_machine.travel("2026-08-22T10:00:20Z", tick=False):
        for _ in range(4):
            assert post(f"/hooks/alertmanager/{storm}", ALERTMANAGER).status_code == 202
        assert post(f"/hooks/alertmanager/{calm}", ALERTMANAGER).status_code == 202

    queued = DBTaskResult.objects.order_by("enqueued_at", "id")
    by_delivery = {row.args_kwargs["args"][0]: row.priority for row in queued}
    deliveries = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    # The first two of the minute are ordinary; past the threshold the storm is busy.
    assert [by_delivery[pk] for pk in deliveries] == [0, 0, -10, -10, 0]
    # A worker takes the calm integration's delivery before the storm's later ones.
    taken = [row.args_kwargs["args"][0] for row in DBTaskResult.objects.ready()]
    assert taken.index(deliveries[4]) < taken.index(deliveries[2])

    # Still busy in the next minute's first seconds: the previous minute counts too.
    with time_machine.travel("2026-08-22T10:01:02Z", tick=False):
        post(f"/hooks/alertmanager/{storm}", ALERTMANAGER)
    latest = DBTaskResult.objects.order_by("-enqueued_at", "-id").first()
    assert latest is not None
    assert latest.priority == -10


def test_without_a_flood_limit_an_integration_is_never_busy(org, db_task_backend, settings):
    settings.ALERTS_BUSY_DELIVERIES = 1
    _, key = make_integration(org, "alertmanager", rate_limit_per_minute=0)

    for _ in range(3):
        post(f"/hooks/alertmanager/{key}", ALERTMANAGER)

    assert set(DBTaskResult.objects.values_list("priority", flat=True)) == {0}


def test_processing_a_flood_opens_one_incident(org):
    _, key = make_integration(org, "alertmanager")
    for n in range(20):
        body = payload(ALERTMANAGER)
        body["alerts"][0]["labels"]["instance"] = f"srv{n}:9100"
        del body["alerts"][0]["fingerprint"]
        post(f"/hooks/alertmanager/{key}", body)

    process_pending()

    assert Alert.objects.count() == 20
    assert Ticket.objects.count() == 1
