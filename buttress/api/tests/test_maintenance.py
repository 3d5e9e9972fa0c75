"""/api/v1/maintenance-windows: windows, their occurrences and the iCalendar feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
import time_machine

from buttress.api.tests.conftest import api_as
from buttress.audit.models import AuditEntry
from buttress.maintenance import services
from buttress.maintenance.models import MaintenanceWindow
from buttress.monitoring import services as monitoring
from buttress.testing.factories import AssetFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def body(org: Any, **fields: Any) -> dict[str, Any]:
    return {
        "organization": org.pk,
        "name": "Patch night",
        "starts_at": "2026-03-08T02:00:00+01:00",
        "duration": 7200,
        "timezone": "Europe/Berlin",
        "rrule": "FREQ=WEEKLY;BYDAY=SU;COUNT=10",
    } | fields


def make(org: Any, **fields: Any) -> MaintenanceWindow:
    values: dict[str, Any] = {"name": "Patch", "starts_at": T0, "duration": timedelta(hours=1)}
    with time_machine.travel(T0, tick=False):
        return services.create_window(org, actor=None, **values | fields)


def test_agent_creates_a_recurring_window(as_agent, org):
    asset = AssetFactory.create(organization=org)
    monitor = monitoring.create_monitor(org, actor=None, name="web", kind="heartbeat")

    response = as_agent.post(
        "/maintenance-windows", body(org, assets=[asset.pk], monitors=[monitor.pk])
    )

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["rrule"] == "FREQ=WEEKLY;BYDAY=SU;COUNT=10"
    assert data["duration"] == 7200
    assert data["assets"] == [asset.pk]
    assert data["monitors"] == [monitor.pk]
    assert (data["suppress_alerts"], data["pause_sla"]) == (True, True)
    assert data["last_end_at"] == "2026-05-10T02:00:00Z"  # 02:00 CEST + 2 h, in UTC
    assert AuditEntry.objects.filter(object_type="maintenance.maintenancewindow").exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;COUNT=0"}, "rrule"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"duration": 10}, "duration"),
        ({"duration": 10**12}, "duration"),
        ({"starts_at": "2026-03-08T02:00:00"}, "starts_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(as_agent, org, fields, field):
    response = as_agent.post("/maintenance-windows", body(org, **fields))

    assert response.status_code == 400, response.json()
    assert field in response.json()["detail"]


def test_another_organisations_asset_is_refused(as_agent, org):
    foreign = AssetFactory.create(organization=OrganizationFactory.create())

    response = as_agent.post("/maintenance-windows", body(org, assets=[foreign.pk]))

    assert response.status_code == 400
    assert "assets" in response.json()["detail"]


def test_viewer_and_customer_admin_read_but_do_not_change(as_viewer, org, org_admin):
    window = make(org)
    customer = api_as(org_admin)

    assert as_viewer.get(f"/maintenance-windows/{window.pk}").status_code == 200
    assert customer.get(f"/maintenance-windows/{window.pk}").status_code == 200
    assert as_viewer.post("/maintenance-windows", body(org)).status_code == 403
    assert customer.patch(f"/maintenance-windows/{window.pk}", {"name": "x"}).status_code == 403
    assert customer.delete(f"/maintenance-windows/{window.pk}").status_code == 403


def test_list_filters_by_asset_monitor_and_active_at(as_agent, org):
    asset = AssetFactory.create(organization=org)
    monitor = monitoring.create_monitor(org, actor=None, name="web", kind="heartbeat")
    on_asset = make(org, assets=[asset], rrule="FREQ=DAILY")
    on_monitor = make(org, monitors=[monitor], starts_at=T0 + timedelta(hours=2))

    def ids(**params: Any) -> list[int]:
        response = as_agent.get("/maintenance-windows", **params)
        assert response.status_code == 200, response.json()
        return [item["id"] for item in response.json()["items"]]

    assert ids(organization=org.pk) == [on_asset.pk, on_monitor.pk]
    assert ids(asset=asset.pk) == [on_asset.pk]
    assert ids(monitor=monitor.pk) == [on_monitor.pk]
    assert ids(active_at="2026-03-05T09:30:00Z") == [on_asset.pk]
    assert ids(active_at="2026-03-02T11:30:00Z") == [on_monitor.pk]
    assert ids(active_at="2026-03-02T10:30:00Z") == []


def test_patch_changes_fields_and_clears_the_rule(as_agent, org):
    window = make(org, rrule="FREQ=DAILY;COUNT=3")

    with time_machine.travel(T0, tick=False):
        response = as_agent.patch(
            f"/maintenance-windows/{window.pk}",
            {"name": "Kernel", "rrule": None, "duration": 1800, "pause_sla": False},
        )

    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["name"], data["rrule"], data["duration"], data["pause_sla"]) == (
        "Kernel",
        "",
        1800,
        False,
    )
    assert as_agent.patch(f"/maintenance-windows/{window.pk}", {"name": None}).status_code == 400


def test_delete_removes_the_window(as_agent, org):
    window = make(org)

    assert as_agent.delete(f"/maintenance-windows/{window.pk}").status_code == 204
    assert not MaintenanceWindow.objects.exists()


def test_occurrences_in_a_period_keep_local_time_across_dst(as_agent, org):
    response = as_agent.post("/maintenance-windows", body(org))
    pk = response.json()["id"]

    found = as_agent.get(
        f"/maintenance-windows/{pk}/occurrences",
        start="2026-03-20T00:00:00Z",
        end="2026-04-06T00:00:00Z",
    )

    assert found.status_code == 200, found.json()
    assert [o["start"] for o in found.json()] == [
        "2026-03-22T01:00:00Z",  # 02:00 CET
        "2026-03-29T01:00:00Z",  # 02:00 does not exist: read as CET, i.e. 03:00 CEST
        "2026-04-05T00:00:00Z",  # 02:00 CEST
    ]


def test_occurrences_refuse_a_backwards_or_too_long_period(as_agent, org):
    window = make(org)
    url = f"/maintenance-windows/{window.pk}/occurrences"

    backwards = as_agent.get(url, start="2026-03-02T00:00:00Z", end="2026-03-01T00:00:00Z")
    too_long = as_agent.get(url, start="2026-01-01T00:00:00Z", end="2028-01-01T00:00:00Z")

    assert backwards.status_code == 400
    assert "end" in backwards.json()["detail"]
    assert too_long.status_code == 400
    assert "end" in too_long.json()["detail"]


def test_calendar_feed_has_an_event_with_rrule_and_tzid(as_agent, org):
    as_agent.post("/maintenance-windows", body(org, reason="Kernel updates"))

    response = as_agent.get("/maintenance-windows/calendar.ics", organization=org.pk)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    feed = icalendar.Calendar.from_ical(response.content)
    event: Any = feed.walk("VEVENT")[0]
    assert len(feed.walk("VEVENT")) == 1
    assert str(event["summary"]) == "Patch night"
    assert event["dtstart"].params["TZID"] == "Europe/Berlin"
    assert event["dtstart"].dt == datetime(2026, 3, 8, 2, 0, tzinfo=event["dtstart"].dt.tzinfo)
    assert event["rrule"]["FREQ"] == ["WEEKLY"]
    assert event["rrule"]["COUNT"] == [10]
    assert event["duration"].dt == timedelta(hours=2)
    assert [tz["tzid"] for tz in feed.walk("VTIMEZONE")] == ["Europe/Berlin"]


def test_end_user_reads_the_calendar_of_their_own_organisation_only(org):
    window = make(org)
    end_user = UserFactory.create(role="end_user", organization=org)
    client = api_as(end_user)

    assert client.get("/maintenance-windows/calendar.ics", organization=org.pk).status_code == 200
    other = OrganizationFactory.create()
    assert client.get("/maintenance-windows/calendar.ics", organization=other.pk).status_code == 404
    assert client.get(f"/maintenance-windows/{window.pk}").status_code == 403
