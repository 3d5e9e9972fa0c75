from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.urls import resolve
from prometheus_client.parser import text_string_to_metric_families

from buttress.accounts.middleware import FirstRunMiddleware
from buttress.scheduler.models import PeriodicJob, SchedulerHeartbeat
from buttress.scheduler.tasks import run_periodic_job

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _beat(seen_at: datetime) -> SchedulerHeartbeat:
    return SchedulerHeartbeat.objects.create(
        name="host:1:abc", host="host", pid=1, started_at=seen_at, seen_at=seen_at
    )


def _samples(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_healthz_answers_without_touching_the_database(client, monkeypatch):
    # given an installation that has its first account (the first-run check is then settled)
    monkeypatch.setattr(FirstRunMiddleware, "users_exist", True)

    # no django_db mark: any query here would raise
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_readyz_is_ok_with_the_database_migrated_and_a_fresh_heartbeat(client, time_machine):
    time_machine.move_to(T0, tick=False)
    _beat(T0 - timedelta(seconds=5))

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert set(response.json()["checks"]) == {"database", "migrations", "scheduler"}


@pytest.mark.django_db
def test_readyz_fails_when_the_scheduler_heartbeat_is_stale(client, settings, time_machine):
    settings.SCHEDULER_STALE_AFTER = 60
    time_machine.move_to(T0, tick=False)
    _beat(T0 - timedelta(seconds=61))

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["scheduler"]
    assert "61s ago" in body["checks"]["scheduler"]["detail"]


@pytest.mark.django_db
def test_readyz_fails_when_no_scheduler_ever_reported(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["scheduler"]


@pytest.mark.django_db
def test_readyz_fails_when_a_migration_is_unapplied(client, time_machine):
    time_machine.move_to(T0, tick=False)
    _beat(T0)
    MigrationRecorder(connection).record_unapplied("scheduler", "0001_initial")

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert "scheduler.0001_initial" in body["checks"]["migrations"]["detail"]


@pytest.mark.django_db
def test_requests_are_counted_by_url_pattern_not_by_path(client):
    path = "/api/v1/organizations/987654"
    client.get(path)
    client.get("/no/such/page/123")

    samples = _samples(client)

    pattern = "/" + resolve(path).route
    counted = {dict(labels).get("route") for (name, labels) in samples if "http_requests" in name}
    assert pattern in counted
    assert "<unmatched>" in counted
    assert not any("987654" in (route or "") or "123" in (route or "") for route in counted)


@pytest.mark.django_db
def test_request_latency_histogram_has_method_route_and_status(client):
    client.get("/healthz")

    samples = _samples(client)

    key = (
        "buttress_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/healthz"), ("status", "200")),
    )
    assert samples[key] >= 1


@pytest.fixture
def empty_queues(settings):
    """With Redis, jobs other tests enqueued (work done on commit) would count too."""
    if settings.TASK_BACKEND == "rq":
        import django_rq

        for name in settings.TASK_QUEUES:
            django_rq.get_queue(name).empty()


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_queues")
def test_metrics_report_queue_depth_and_the_oldest_waiting_task(client, time_machine):
    time_machine.move_to(T0, tick=False)
    run_periodic_job.enqueue(1, T0.isoformat())
    time_machine.move_to(T0 + timedelta(seconds=30), tick=False)
    run_periodic_job.enqueue(2, T0.isoformat())

    samples = _samples(client)

    assert samples[("buttress_task_queue_depth", (("queue", "default"),))] == 2
    assert samples[("buttress_task_queue_oldest_age_seconds", (("queue", "default"),))] == 30


@pytest.mark.django_db
def test_metrics_report_scheduler_lag_and_heartbeat_age(client, time_machine):
    time_machine.move_to(T0, tick=False)
    _beat(T0 - timedelta(seconds=4))
    PeriodicJob.objects.create(
        name="late", job="probe", interval_seconds=60, next_due_at=T0 - timedelta(seconds=90)
    )
    PeriodicJob.objects.create(
        name="later", job="probe", interval_seconds=60, next_due_at=T0 + timedelta(seconds=90)
    )

    samples = _samples(client)

    timer = (("timer", "scheduler.periodic_job"),)
    assert samples[("buttress_scheduler_lag_seconds", timer)] == 90
    assert samples[("buttress_scheduler_due_rows", timer)] == 1
    assert samples[("buttress_scheduler_heartbeat_age_seconds", ())] == 4
    assert samples[("buttress_schedulers_alive", ())] == 1
    assert samples[("buttress_state_collector_up", ())] == 1


@pytest.mark.django_db
def test_metrics_need_the_bearer_token_when_one_is_configured(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert _samples(client, HTTP_AUTHORIZATION="Bearer s3cret-token")
