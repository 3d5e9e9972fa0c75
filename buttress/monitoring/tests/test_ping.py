"""The /ping endpoint, rule by rule of the heartbeat ping API reference."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from buttress.intake.testing import IntakeClient
from buttress.monitoring import services
from buttress.monitoring.models import Monitor, MonitorStatus, Ping, StateChange
from buttress.testing.factories import OrganizationFactory

# No account exists in these tests: /ping is a machine path, never sent to the first-run setup.
pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["django", "intake"])
def client(request: pytest.FixtureRequest) -> Client | IntakeClient:
    """Each test runs against the Django view and against the intake server (same answers)."""
    if request.param == "intake":
        return IntakeClient()
    return Client(raise_request_exception=True)


@pytest.fixture
def monitor(org) -> Monitor:
    return services.create_monitor(
        org, actor=None, name="nightly backup", kind="heartbeat", slug="backup"
    )


@pytest.fixture
def ping_key(org) -> str:
    return services.rotate_ping_key(org, actor=None)[1]


def _pings(monitor: Monitor) -> list[Ping]:
    return list(Ping.objects.filter(monitor=monitor).order_by("n"))


@pytest.mark.parametrize("method", ["get", "post", "head"])
def test_success_ping_answers_ok_with_cors_and_body_limit_headers(client, monitor, method):
    response = getattr(client, method)(f"/ping/{monitor.uuid}")

    assert response.status_code == 200
    if method != "head":
        assert response.content == b"OK"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Ping-Body-Limit"] == "10000"
    monitor.refresh_from_db()
    assert monitor.status == MonitorStatus.UP
    assert [p.method for p in _pings(monitor)] == [method.upper()]


def test_trailing_slash_is_allowed(client, monitor):
    assert client.get(f"/ping/{monitor.uuid}/").status_code == 200
    assert client.get(f"/ping/{monitor.uuid}/start/").status_code == 200


def test_ping_needs_no_csrf_token(monitor):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(f"/ping/{monitor.uuid}", data=b"done", content_type="text/plain")

    assert response.status_code == 200


def test_unsupported_method_is_refused(client, monitor):
    assert client.put(f"/ping/{monitor.uuid}").status_code == 405


def test_unknown_uuid_answers_404(client, monitor):
    response = client.get(f"/ping/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == "*"


def test_uppercase_uuid_is_not_a_ping_url(client, monitor):
    assert client.get(f"/ping/{str(monitor.uuid).upper()}").status_code == 404
    assert Ping.objects.count() == 0


def test_uuid_of_a_check_that_is_not_a_heartbeat_answers_404(client, org):
    checked = services.create_monitor(
        org, actor=None, name="site", kind="http", config={"url": "https://example.com/"}
    )

    assert client.get(f"/ping/{checked.uuid}").status_code == 404


def test_start_marks_the_job_running_without_counting_as_a_ping(client, monitor):
    client.get(f"/ping/{monitor.uuid}/start")

    monitor.refresh_from_db()
    assert monitor.last_start_at is not None
    assert monitor.last_ping_at is None
    assert monitor.status == MonitorStatus.UNKNOWN
    assert monitor.heartbeat_due_at == monitor.last_start_at + timedelta(seconds=monitor.grace)


def test_fail_makes_the_monitor_down_at_once(client, monitor):
    client.get(f"/ping/{monitor.uuid}")

    response = client.get(f"/ping/{monitor.uuid}/fail")

    monitor.refresh_from_db()
    assert response.status_code == 200
    assert monitor.status == MonitorStatus.DOWN
    assert monitor.heartbeat_due_at is None
    assert list(StateChange.objects.order_by("id").values_list("from_status", "to_status")) == [
        ("unknown", "up"),
        ("up", "down"),
    ]


def test_log_never_changes_status(client, monitor):
    client.get(f"/ping/{monitor.uuid}/fail")

    client.post(f"/ping/{monitor.uuid}/log", data=b"still trying", content_type="text/plain")

    monitor.refresh_from_db()
    assert monitor.status == MonitorStatus.DOWN
    assert _pings(monitor)[-1].kind == "log"
    assert _pings(monitor)[-1].body == "still trying"


@pytest.mark.parametrize(("code", "status"), [("0", "up"), ("1", "down"), ("255", "down")])
def test_exit_status_zero_is_success_and_1_to_255_failure(client, monitor, code, status):
    response = client.get(f"/ping/{monitor.uuid}/{code}")

    monitor.refresh_from_db()
    assert response.status_code == 200
    assert monitor.status == status
    assert _pings(monitor)[-1].exit_status == int(code)
    assert _pings(monitor)[-1].kind == "exit"


@pytest.mark.parametrize("code", ["256", "1000", "99999999999999999999999"])
def test_exit_status_above_255_answers_400(client, monitor, code):
    response = client.get(f"/ping/{monitor.uuid}/{code}")

    assert response.status_code == 400
    assert Ping.objects.count() == 0


@pytest.mark.parametrize("signal", ["stop", "-1", "start/extra"])
def test_unknown_signal_answers_404(client, monitor, signal):
    assert client.get(f"/ping/{monitor.uuid}/{signal}").status_code == 404


def test_rid_pairs_start_and_end_into_a_duration(client, monitor, time_machine):
    rid = uuid.uuid4()
    time_machine.move_to(T0, tick=False)
    client.get(f"/ping/{monitor.uuid}/start?rid={rid}")
    time_machine.move_to(T0 + timedelta(minutes=7), tick=False)

    client.post(f"/ping/{monitor.uuid}/0?rid={rid}", data=b"log", content_type="text/plain")

    end = _pings(monitor)[-1]
    assert end.rid == rid
    assert end.duration == timedelta(minutes=7)
    monitor.refresh_from_db()
    assert monitor.last_start_at is None


def test_concurrent_runs_pair_by_their_own_rid(client, monitor, time_machine):
    first, second = uuid.uuid4(), uuid.uuid4()
    time_machine.move_to(T0, tick=False)
    client.get(f"/ping/{monitor.uuid}/start?rid={first}")
    time_machine.move_to(T0 + timedelta(minutes=1), tick=False)
    client.get(f"/ping/{monitor.uuid}/start?rid={second}")
    time_machine.move_to(T0 + timedelta(minutes=10), tick=False)

    client.get(f"/ping/{monitor.uuid}?rid={first}")

    assert _pings(monitor)[-1].duration == timedelta(minutes=10)


def test_start_and_end_without_rid_pair_too(client, monitor, time_machine):
    time_machine.move_to(T0, tick=False)
    client.get(f"/ping/{monitor.uuid}/start")
    time_machine.move_to(T0 + timedelta(seconds=90), tick=False)

    client.get(f"/ping/{monitor.uuid}/fail")

    assert _pings(monitor)[-1].duration == timedelta(seconds=90)


def test_durations_pair_only_within_72_hours(client, monitor, time_machine):
    rid = uuid.uuid4()
    time_machine.move_to(T0, tick=False)
    client.get(f"/ping/{monitor.uuid}/start?rid={rid}")
    time_machine.move_to(T0 + timedelta(hours=72, seconds=1), tick=False)

    client.get(f"/ping/{monitor.uuid}?rid={rid}")

    assert _pings(monitor)[-1].duration is None


@pytest.mark.parametrize("rid", ["", "nope", "1234", str(uuid.uuid4())[:-1]])
def test_malformed_rid_answers_400(client, monitor, rid):
    response = client.get(f"/ping/{monitor.uuid}?rid={rid}")

    assert response.status_code == 400
    assert Ping.objects.count() == 0


def test_body_is_kept_up_to_the_limit(client, monitor):
    client.post(f"/ping/{monitor.uuid}", data=b"x" * 12_000, content_type="text/plain")

    ping = _pings(monitor)[-1]
    assert len(ping.body) == 10_000
    assert ping.body_size == 12_000


def test_body_limit_is_a_setting(client, monitor, settings):
    settings.MONITORING_PING_BODY_LIMIT = 5

    response = client.post(f"/ping/{monitor.uuid}", data=b"abcdefgh", content_type="text/plain")

    assert response["Ping-Body-Limit"] == "5"
    assert _pings(monitor)[-1].body == "abcde"


def test_binary_body_is_stored_without_nul(client, monitor):
    client.post(
        f"/ping/{monitor.uuid}", data=b"a\x00b\xff", content_type="application/octet-stream"
    )

    assert _pings(monitor)[-1].body == "a\ufffdb\ufffd"


def test_remote_address_method_and_truncated_user_agent_are_recorded(client, monitor):
    client.get(f"/ping/{monitor.uuid}", headers={"User-Agent": "curl/8 " + "z" * 500})

    ping = _pings(monitor)[-1]
    assert ping.remote_addr == "127.0.0.1"
    assert ping.method == "GET"
    assert len(ping.user_agent) == 200
    assert ping.user_agent.startswith("curl/8 ")


def test_forwarded_address_is_used_only_behind_a_trusted_proxy(client, monitor, settings):
    headers = {"X-Forwarded-For": "203.0.113.9"}
    client.get(f"/ping/{monitor.uuid}", headers=headers)
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    client.get(f"/ping/{monitor.uuid}", headers=headers)

    assert [p.remote_addr for p in _pings(monitor)] == ["127.0.0.1", "203.0.113.9"]


def test_slug_url_reaches_the_organisations_monitor(client, monitor, ping_key):
    response = client.get(f"/ping/{ping_key}/backup")

    assert response.status_code == 200
    assert response.content == b"OK"
    monitor.refresh_from_db()
    assert monitor.status == MonitorStatus.UP


@pytest.mark.parametrize(("signal", "kind"), [("start", "start"), ("fail", "fail"), ("3", "exit")])
def test_slug_url_takes_every_signal(client, monitor, ping_key, signal, kind):
    assert client.get(f"/ping/{ping_key}/backup/{signal}/").status_code == 200
    assert _pings(monitor)[-1].kind == kind


def test_uppercase_slug_answers_400(client, monitor, ping_key):
    assert client.get(f"/ping/{ping_key}/Backup").status_code == 400
    assert client.get(f"/ping/{ping_key}/Backup?create=1").status_code == 400
    assert Monitor.objects.count() == 1


def test_unknown_slug_answers_404(client, monitor, ping_key):
    assert client.get(f"/ping/{ping_key}/restore").status_code == 404


def test_unknown_ping_key_answers_404(client, monitor, ping_key):
    assert client.get("/ping/not-the-key/backup").status_code == 404
    assert client.get("/ping/not-the-key/backup?create=1").status_code == 404
    assert Monitor.objects.count() == 1


def test_another_organisations_key_does_not_reach_this_slug(client, monitor):
    other_key = services.rotate_ping_key(OrganizationFactory.create(), actor=None)[1]

    assert client.get(f"/ping/{other_key}/backup").status_code == 404


def test_ambiguous_slug_answers_409_and_the_ping_is_ignored(client, org, monitor, ping_key):
    services.create_monitor(org, actor=None, name="second backup", kind="heartbeat", slug="backup")

    response = client.get(f"/ping/{ping_key}/backup")

    assert response.status_code == 409
    assert Ping.objects.count() == 0


def test_create_1_makes_the_missing_monitor_and_answers_201(client, org, ping_key):
    response = client.post(
        f"/ping/{ping_key}/db-dump?create=1", data=b"ok", content_type="text/plain"
    )

    assert response.status_code == 201
    created = Monitor.objects.get(slug="db-dump")
    assert created.organization == org
    assert created.kind == "heartbeat"
    assert created.status == MonitorStatus.UP
    assert _pings(created)[0].body == "ok"


def test_create_1_on_an_existing_slug_answers_200(client, monitor, ping_key):
    assert client.get(f"/ping/{ping_key}/backup?create=1").status_code == 200
    assert Monitor.objects.count() == 1


def test_rotating_the_key_retires_the_old_one(client, org, monitor, ping_key):
    new_key = services.rotate_ping_key(org, actor=None)[1]

    assert client.get(f"/ping/{ping_key}/backup").status_code == 404
    assert client.get(f"/ping/{new_key}/backup").status_code == 200


def test_ping_key_is_stored_hashed(org, ping_key):
    stored = org.ping_key

    assert ping_key not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == services.hash_ping_key(ping_key)


def test_a_success_ping_on_a_paused_monitor_resumes_it(client, monitor):
    services.pause_monitor(monitor, actor=None)

    client.get(f"/ping/{monitor.uuid}")

    monitor.refresh_from_db()
    assert not monitor.is_paused
    assert monitor.status == MonitorStatus.UP


def test_only_the_newest_pings_are_kept(client, monitor, settings):
    settings.MONITORING_PINGS_KEPT = 5

    for _ in range(20):
        client.get(f"/ping/{monitor.uuid}/log")

    # Pruned every tenth ping, so at most ten more than the setting are ever held.
    assert [p.n for p in _pings(monitor)] == [16, 17, 18, 19, 20]


def test_a_uuid_ping_costs_a_handful_of_queries(monitor):
    client = Client()
    client.get(f"/ping/{monitor.uuid}")  # the first success also writes a state change

    with CaptureQueriesContext(connection) as queries:
        client.get(f"/ping/{monitor.uuid}")

    # SELECT ... FOR UPDATE, INSERT ping, UPDATE monitor, plus the transaction's own statements.
    statements = [q["sql"] for q in queries.captured_queries]
    assert len([s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]) <= 3
