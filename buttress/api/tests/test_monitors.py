"""/api/v1/monitors: create, read, change, pause and delete monitors; pings, state changes,
results, latency and incidents."""

from urllib.parse import urlencode

import pytest
from django.test import Client

from buttress.api.tests.conftest import api_as
from buttress.audit.models import AuditEntry
from buttress.monitoring import services
from buttress.monitoring.models import (
    CheckResult,
    LatencyRollup,
    Monitor,
    MonitorIncident,
    StateChange,
)
from buttress.monitoring.pinging import PingRequest
from buttress.testing.factories import AssetFactory, TicketFactory

pytestmark = pytest.mark.django_db

HTTP = {"url": "https://example.com/health", "expected_status": "2xx"}


def _create(client, org, **fields):
    body = {"organization": org.pk, "name": "site", "kind": "http", "config": HTTP} | fields
    return client.post("/monitors", body)


def _heartbeat(org, **fields) -> Monitor:
    return services.create_monitor(org, actor=None, name="backup", kind="heartbeat", **fields)


def test_agent_creates_an_http_monitor(as_agent, org):
    asset = AssetFactory.create(organization=org)

    response = _create(as_agent, org, asset=asset.pk, interval=30)

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["kind"] == "http"
    assert data["status"] == "unknown"
    assert data["interval"] == 30
    assert data["asset"] == asset.pk
    assert data["config"] == HTTP
    assert data["ping_url"] is None
    assert data["period"] is None
    assert AuditEntry.objects.filter(object_type="monitoring.monitor", action="create").exists()


def test_heartbeat_monitor_has_an_absolute_ping_url(as_agent, org, settings):
    settings.BASE_URL = "https://desk.example.net"

    data = _create(
        as_agent, org, kind="heartbeat", config={}, slug="nightly", period=3600, grace=300
    ).json()

    monitor = Monitor.objects.get(pk=data["id"])
    assert data["ping_url"] == f"https://desk.example.net/ping/{monitor.uuid}"
    assert data["uuid"] == str(monitor.uuid)
    assert (data["period"], data["grace"], data["schedule"], data["tz"]) == (3600, 300, None, None)
    assert data["interval"] is None
    assert data["slug"] == "nightly"


def test_heartbeat_with_a_schedule_is_a_cron_monitor(as_agent, org):
    data = _create(
        as_agent,
        org,
        kind="heartbeat",
        config={},
        schedule="0  3 * * 1-5",
        tz="Europe/Berlin",
        grace=1800,
    ).json()

    assert data["schedule_kind"] == "cron"
    assert data["schedule"] == "0 3 * * 1-5"
    assert data["tz"] == "Europe/Berlin"
    assert data["period"] is None


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"config": {"url": "ftp://example.com/"}}, "config.url", "http://"),
        ({"config": {"url": "http://exa mple.com/"}}, "config.url", "not a valid"),
        ({"config": {}}, "config.url", "required"),
        (
            {"config": HTTP | {"json_assertions": [{"path": "status[", "op": "=="}]}},
            "config.json_assertions[0].path",
            "JMESPath",
        ),
        ({"config": HTTP | {"colour": "red"}}, "config.colour", "not an option"),
        ({"config": HTTP | {"allow_private": True}}, "config.allow_private", "policy"),
        ({"kind": "tcp", "config": {"host": "bad host", "port": 22}}, "config.host", "host"),
        ({"kind": "tcp", "config": {"host": "db.example", "port": 70000}}, "config.port", "port"),
        (
            {"kind": "dns", "config": {"name": "example.com", "nameserver": "x"}},
            "config.nameserver",
            "",
        ),
        ({"interval": 5}, "interval", "10"),
        ({"kind": "heartbeat", "config": {}, "schedule": "61 * * * *"}, "schedule", "cron"),
        ({"kind": "heartbeat", "config": {}, "schedule": "* * * *"}, "schedule", "5 fields"),
        ({"kind": "heartbeat", "config": {}, "schedule": "0 0 * * *", "tz": "Moon/Base"}, "tz", ""),
        ({"kind": "heartbeat", "config": {}, "period": 30}, "period", "60 seconds"),
        ({"kind": "heartbeat", "config": {}, "grace": 400 * 86400}, "grace", "a year"),
        ({"kind": "heartbeat", "config": {}, "slug": "Nightly"}, "slug", "lowercase"),
        ({"kind": "heartbeat", "config": HTTP}, "config", "no config"),
        ({"slug": "nightly"}, "slug", "heartbeat"),
        ({"period": 600}, "period", "heartbeat"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_the_field(as_agent, org, fields, field, words):
    response = _create(as_agent, org, **fields)

    assert response.status_code == 400, response.json()
    detail = response.json()["detail"]
    assert list(detail) == [field]
    assert words in detail[field][0]
    assert Monitor.objects.count() == 0


def test_unknown_kind_is_a_schema_error(as_agent, org):
    assert _create(as_agent, org, kind="gopher").status_code == 422


def test_asset_of_another_organisation_is_refused(as_agent, org, other_org):
    theirs = AssetFactory.create(organization=other_org)

    response = _create(as_agent, org, asset=theirs.pk)

    assert response.status_code == 400
    assert "asset" in response.json()["detail"]


def test_list_filters_by_organisation_kind_and_status(as_agent, org, other_org):
    _heartbeat(org, slug="a")
    up = _heartbeat(org, slug="b")
    services.ping_by_uuid(up.uuid, PingRequest(kind="success"))
    services.create_monitor(org, actor=None, name="web", kind="http", config=HTTP)
    _heartbeat(other_org)

    def names(**params):
        return sorted(
            (m["name"], m["status"]) for m in as_agent.get("/monitors", **params).json()["items"]
        )

    assert len(names()) == 4
    assert len(names(organization=org.pk)) == 3
    assert names(organization=org.pk, kind="http") == [("web", "unknown")]
    assert names(organization=org.pk, status="up") == [("backup", "up")]


def test_list_is_cursor_paginated(as_agent, org):
    for index in range(5):
        services.create_monitor(org, actor=None, name=f"m{index}", kind="http", config=HTTP)

    first = as_agent.get("/monitors", limit=3).json()
    second = as_agent.get("/monitors", limit=3, cursor=first["next_cursor"]).json()

    assert [m["name"] for m in first["items"] + second["items"]] == [f"m{i}" for i in range(5)]
    assert second["next_cursor"] is None


def test_patch_changes_the_schedule_and_refuses_bad_values(as_agent, org):
    monitor = _heartbeat(org)

    ok = as_agent.patch(f"/monitors/{monitor.pk}", {"schedule": "*/10 * * * *", "tz": "Asia/Tokyo"})
    bad = as_agent.patch(f"/monitors/{monitor.pk}", {"tz": "Nowhere"})
    back = as_agent.patch(f"/monitors/{monitor.pk}", {"schedule": None, "period": 600})

    assert ok.status_code == 200
    assert (ok.json()["schedule_kind"], ok.json()["schedule"]) == ("cron", "*/10 * * * *")
    assert bad.status_code == 400
    assert "tz" in bad.json()["detail"]
    assert (back.json()["schedule_kind"], back.json()["period"]) == ("simple", 600)


def test_patch_refuses_schedule_fields_on_a_check(as_agent, org):
    monitor = services.create_monitor(org, actor=None, name="web", kind="http", config=HTTP)

    response = as_agent.patch(f"/monitors/{monitor.pk}", {"grace": 600})

    assert response.status_code == 400
    assert list(response.json()["detail"]) == ["grace"]


def test_patch_changes_a_checks_config_and_refuses_a_bad_one(as_agent, org):
    monitor = services.create_monitor(org, actor=None, name="web", kind="http", config=HTTP)

    ok = as_agent.patch(f"/monitors/{monitor.pk}", {"config": {"url": "http://example.org/"}})
    bad = as_agent.patch(f"/monitors/{monitor.pk}", {"config": {"url": "example.org"}})

    assert ok.status_code == 200
    assert ok.json()["config"] == {"url": "http://example.org/"}
    assert bad.status_code == 400
    assert list(bad.json()["detail"]) == ["config.url"]


def test_patch_cannot_null_a_required_field(as_agent, org):
    monitor = _heartbeat(org)

    response = as_agent.patch(f"/monitors/{monitor.pk}", {"name": None})

    assert response.status_code == 400
    assert "name" in response.json()["detail"]


def test_pause_and_resume(as_agent, org):
    monitor = _heartbeat(org)

    paused = as_agent.post(f"/monitors/{monitor.pk}/pause").json()
    resumed = as_agent.post(f"/monitors/{monitor.pk}/resume").json()

    assert (paused["status"], paused["is_paused"]) == ("paused", True)
    assert (resumed["status"], resumed["is_paused"]) == ("unknown", False)


def test_delete_removes_the_monitor(as_agent, org):
    monitor = _heartbeat(org)

    assert as_agent.delete(f"/monitors/{monitor.pk}").status_code == 204
    assert not Monitor.objects.filter(pk=monitor.pk).exists()
    assert as_agent.get(f"/monitors/{monitor.pk}").status_code == 404


def test_pings_and_state_changes_are_listed_newest_first(as_agent, org, admin_user):
    monitor = _heartbeat(org)
    pinger = Client()
    pinger.post(f"/ping/{monitor.uuid}/start?rid=3f1c1e9e-8a41-4c8e-9d54-1d8f0a7b2c11")
    pinger.post(
        f"/ping/{monitor.uuid}/1?rid=3f1c1e9e-8a41-4c8e-9d54-1d8f0a7b2c11",
        data=b"disk full",
        content_type="text/plain",
    )

    pings = as_agent.get(f"/monitors/{monitor.pk}/pings").json()["items"]
    changes = as_agent.get(f"/monitors/{monitor.pk}/state-changes").json()["items"]

    assert [(p["kind"], p["exit_status"]) for p in pings] == [("exit", 1), ("start", None)]
    assert pings[0]["body"] == "disk full"
    assert pings[0]["rid"] == "3f1c1e9e-8a41-4c8e-9d54-1d8f0a7b2c11"
    assert pings[0]["duration"] is not None
    assert [(c["from_status"], c["to_status"], c["reason"]) for c in changes] == [
        ("unknown", "down", "exit status 1")
    ]


def test_ping_key_is_shown_once_and_works_in_slug_urls(as_agent, org, admin_user):
    monitor = _heartbeat(org, slug="nightly")

    response = as_agent.post(f"/organizations/{org.pk}/ping-key")

    assert response.status_code == 201
    key = response.json()["ping_key"]
    assert response.json()["prefix"] == key[:6]
    assert Client().get(f"/ping/{key}/nightly").status_code == 200
    assert StateChange.objects.filter(monitor=monitor, to_status="up").exists()


def test_org_admin_manages_its_own_monitors_only(as_org_admin, org, other_org):
    theirs = _heartbeat(other_org)

    assert _create(as_org_admin, org).status_code == 201
    assert _create(as_org_admin, other_org).status_code == 404
    assert as_org_admin.get(f"/monitors/{theirs.pk}").status_code == 404
    assert as_org_admin.post(f"/monitors/{theirs.pk}/pause").status_code == 404
    assert as_org_admin.get(f"/monitors/{theirs.pk}/pings").status_code == 404
    assert as_org_admin.post(f"/organizations/{other_org.pk}/ping-key").status_code == 404
    assert [m["name"] for m in as_org_admin.get("/monitors").json()["items"]] == ["site"]


def test_viewer_reads_but_cannot_change(as_viewer, org):
    monitor = _heartbeat(org)

    assert as_viewer.get(f"/monitors/{monitor.pk}").status_code == 200
    assert as_viewer.post(f"/monitors/{monitor.pk}/pause").status_code == 403
    assert _create(as_viewer, org).status_code == 403


def test_end_user_sees_no_monitors(end_user, org):
    monitor = _heartbeat(org)
    client = api_as(end_user)

    assert client.get("/monitors").json()["items"] == []
    assert client.get(f"/monitors/{monitor.pk}").status_code == 403


def test_read_token_cannot_change_monitors(agent, org):
    monitor = _heartbeat(org)
    reader = api_as(agent, scope="read")

    assert reader.get(f"/monitors/{monitor.pk}").status_code == 200
    assert reader.post(f"/monitors/{monitor.pk}/pause").status_code == 403
    assert reader.delete(f"/monitors/{monitor.pk}").status_code == 403


def test_uptime_over_a_period_from_state_changes(as_agent, org):
    monitor = Monitor.objects.create(organization=org, name="site", kind="http", status="up")
    Monitor.objects.filter(pk=monitor.pk).update(created_at="2026-01-01T00:00:00Z")
    StateChange.objects.create(
        organization=org,
        monitor=monitor,
        at="2026-03-01T06:00:00Z",
        from_status="down",
        to_status="up",
    )

    response = as_agent.get(
        f"/monitors/{monitor.pk}/uptime?start=2026-03-01T00:00:00Z&end=2026-03-02T00:00:00Z"
    )

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["uptime"] == 0.75
    assert (data["up_seconds"], data["down_seconds"]) == (18 * 3600, 6 * 3600)
    assert data["exclude_maintenance"] is False


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "end"),
        ({"start": "2026-03-01T00:00:00", "end": "2026-03-02T00:00:00Z"}, "start"),
        ({"start": "yesterday", "end": "2026-03-02T00:00:00Z"}, "start"),
    ],
)
def test_uptime_refuses_a_bad_period_naming_the_field(as_agent, org, query, field):
    monitor = Monitor.objects.create(organization=org, name="site", kind="http")

    response = as_agent.get(f"/monitors/{monitor.pk}/uptime?{urlencode(query)}")

    assert response.status_code in {400, 422}
    assert field in str(response.json())


def test_thresholds_and_parents_are_set_and_checked(as_agent, org, other_org):
    parent = _create(as_agent, org, name="uplink").json()
    asset = AssetFactory.create(organization=org)

    response = _create(
        as_agent,
        org,
        name="printer",
        down_after=3,
        depends_on=parent["id"],
        depends_on_asset=asset.pk,
    )

    assert response.status_code == 201, response.json()
    child = response.json()
    assert (child["down_after"], child["up_after"]) == (3, 1)
    assert (child["depends_on"], child["depends_on_asset"]) == (parent["id"], asset.pk)
    assert child["last_checked_at"] is None
    theirs = _create(as_agent, other_org, name="theirs").json()
    refused = _create(as_agent, org, depends_on=theirs["id"])
    assert refused.status_code == 400
    assert "depends_on" in refused.json()["detail"]
    assert _create(as_agent, org, down_after=0).status_code == 400
    cycle = as_agent.patch(f"/monitors/{parent['id']}", {"depends_on": child["id"]})
    assert cycle.status_code == 400
    assert "itself" in cycle.json()["detail"]["depends_on"][0]


def test_who_set_up_a_monitor_is_kept_for_the_private_address_policy(as_agent, as_org_admin, org):
    by_staff = _create(as_agent, org, name="by staff").json()
    by_customer = _create(as_org_admin, org, name="by customer").json()

    assert Monitor.objects.get(pk=by_staff["id"]).configured_by_staff
    assert not Monitor.objects.get(pk=by_customer["id"]).configured_by_staff


# --- results, latency, incidents -------------------------------------------------------------


def _check(org, name: str = "site") -> Monitor:
    return services.create_monitor(org, actor=None, name=name, kind="http", config=HTTP)


def _result(monitor: Monitor, at: str, status: str, latency: float | None, message: str):
    return CheckResult.objects.create(
        organization=monitor.organization,
        monitor=monitor,
        at=at,
        status=status,
        latency_ms=latency,
        message=message,
    )


def test_results_are_listed_newest_first_and_paginated(as_agent, org):
    monitor = _check(org)
    _result(monitor, "2026-03-01T10:00:00Z", "up", 12.5, "HTTP 200")
    _result(monitor, "2026-03-01T10:01:00Z", "down", None, "connection refused")
    _result(monitor, "2026-03-01T10:02:00Z", "up", 14.0, "HTTP 200")

    first = as_agent.get(f"/monitors/{monitor.pk}/results?limit=2").json()
    second = as_agent.get(
        f"/monitors/{monitor.pk}/results?limit=2&cursor={first['next_cursor']}"
    ).json()

    items = first["items"] + second["items"]
    assert [(r["status"], r["latency_ms"], r["message"]) for r in items] == [
        ("up", 14.0, "HTTP 200"),
        ("down", None, "connection refused"),
        ("up", 12.5, "HTTP 200"),
    ]
    assert second["next_cursor"] is None


def test_the_monitor_shows_its_last_result_in_the_list_and_alone(as_agent, org):
    checked, never = _check(org, "a checked"), _check(org, "b never checked")
    _result(checked, "2026-03-01T10:00:00Z", "up", 12.5, "HTTP 200")
    _result(checked, "2026-03-01T10:01:00Z", "down", 812.0, "HTTP 503")

    listed = {m["name"]: m for m in as_agent.get("/monitors").json()["items"]}
    alone = as_agent.get(f"/monitors/{checked.pk}").json()

    expected = {
        "at": "2026-03-01T10:01:00Z",
        "status": "down",
        "latency_ms": 812.0,
        "message": "HTTP 503",
    }
    assert listed["a checked"]["last_result"] == expected
    assert alone["last_result"] == expected
    assert listed["b never checked"]["last_result"] is None
    assert as_agent.get(f"/monitors/{never.pk}").json()["last_result"] is None


def test_latency_is_the_rollup_series_at_the_chosen_resolution(as_agent, org):
    monitor = _check(org)
    for hour, p50 in ((9, 10.0), (10, 20.0), (11, 30.0)):
        LatencyRollup.objects.create(
            organization=org,
            monitor=monitor,
            level="hour",
            start=f"2026-03-01T{hour:02}:00:00Z",
            count=360,
            failures=1,
            unknowns=0,
            p50_ms=p50,
            p95_ms=p50 * 3,
            max_ms=p50 * 9,
        )
    LatencyRollup.objects.create(
        organization=org,
        monitor=monitor,
        level="minute",
        start="2026-03-01T10:00:00Z",
        count=6,
        failures=0,
    )
    query = urlencode(
        {"resolution": "hour", "since": "2026-03-01T10:00:00Z", "until": "2026-03-01T12:00:00Z"}
    )

    data = as_agent.get(f"/monitors/{monitor.pk}/latency?{query}").json()

    assert data["resolution"] == "hour"
    assert [(p["start"], p["p50_ms"], p["p95_ms"], p["max_ms"]) for p in data["points"]] == [
        ("2026-03-01T10:00:00Z", 20.0, 60.0, 180.0),
        ("2026-03-01T11:00:00Z", 30.0, 90.0, 270.0),
    ]
    assert data["points"][0]["count"] == 360
    assert data["points"][0]["failures"] == 1


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({"resolution": "week"}, 422, None),
        ({"since": "2026-03-01T10:00:00Z", "until": "2026-03-01T09:00:00Z"}, 400, "until"),
        ({"since": "2026-03-01T10:00:00", "until": "2026-03-01T12:00:00Z"}, 400, "since"),
        ({"resolution": "minute", "since": "2025-01-01T00:00:00Z"}, 400, "since"),
    ],
)
def test_latency_refuses_a_bad_query_naming_the_field(as_agent, org, query, status, field):
    monitor = _check(org)

    response = as_agent.get(f"/monitors/{monitor.pk}/latency?{urlencode(query)}")

    assert response.status_code == status
    if field is not None:
        assert field in response.json()["detail"]


def test_incidents_list_the_tickets_the_monitor_opened(as_agent, org):
    monitor = _check(org)
    old = TicketFactory.create(organization=org, subject="Monitor site is down")
    new = TicketFactory.create(organization=org, subject="Monitor site is down again")
    MonitorIncident.objects.create(
        organization=org,
        monitor=monitor,
        ticket=old,
        opened_at="2026-03-01T10:00:00Z",
        recovered_at="2026-03-01T10:30:00Z",
    )
    MonitorIncident.objects.create(
        organization=org, monitor=monitor, ticket=new, opened_at="2026-03-02T10:00:00Z"
    )

    items = as_agent.get(f"/monitors/{monitor.pk}/incidents").json()["items"]

    assert [(i["ticket"], i["number"], i["subject"]) for i in items] == [
        (new.pk, new.number, "Monitor site is down again"),
        (old.pk, old.number, "Monitor site is down"),
    ]
    assert items[0]["recovered_at"] is None
    assert items[1]["recovered_at"] == "2026-03-01T10:30:00Z"
    assert items[0]["ticket_status"] == new.status


def test_another_organisations_results_latency_and_incidents_are_not_found(as_org_admin, other_org):
    theirs = _check(other_org)

    for path in ("results", "latency", "incidents"):
        assert as_org_admin.get(f"/monitors/{theirs.pk}/{path}").status_code == 404
