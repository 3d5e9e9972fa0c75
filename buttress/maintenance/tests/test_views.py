"""The maintenance pages: list, calendar, form, detail, delete and the iCalendar download."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from buttress.maintenance import services
from buttress.maintenance.models import MaintenanceWindow
from buttress.monitoring import services as monitoring
from buttress.testing.factories import AssetFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make(org: Any, **fields: Any) -> MaintenanceWindow:
    values: dict[str, Any] = {
        "name": "Patch night",
        "starts_at": T0,
        "duration": timedelta(hours=2),
    }
    with time_machine.travel(T0, tick=False):
        return services.create_window(org, actor=None, **values | fields)


def form_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Router firmware",
        "reason": "Vendor advisory",
        "timezone": "Europe/Berlin",
        "starts_at": "2026-03-08T02:00",
        "duration_minutes": "90",
        "rrule": "FREQ=WEEKLY;BYDAY=SU;COUNT=4",
        "suppress_alerts": "on",
        "pause_sla": "on",
    }
    data.update(changes)
    return data


def test_list_shows_windows_with_their_next_occurrences(client: Client, agent, org):
    make(org, rrule="FREQ=DAILY")
    client.force_login(agent)

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        response = client.get(reverse("maintenance:list"), {"organization": org.pk})

    assert response.status_code == 200
    assert "Patch night" in response.text
    assert "2026-03-03 09:00 \N{EN DASH} 11:00" in response.text


def test_list_of_another_organisation_is_not_found(client: Client, org_admin):
    client.force_login(org_admin)
    other = OrganizationFactory.create()

    response = client.get(reverse("maintenance:list"), {"organization": other.pk})

    assert response.status_code == 404


def test_agent_adds_a_window_in_local_time_with_assets_and_monitors(client: Client, agent, org):
    asset = AssetFactory.create(organization=org, name="core-router")
    monitor = monitoring.create_monitor(org, actor=None, name="uplink", kind="heartbeat")
    client.force_login(agent)
    url = f"{reverse('maintenance:create')}?organization={org.pk}"

    page = client.get(url)
    response = client.post(
        url, form_data(organization=org.pk, assets=[asset.pk], monitors=[monitor.pk])
    )

    assert "core-router" in page.text
    assert response.status_code == 302, response.context["form"].errors
    window = MaintenanceWindow.objects.get()
    assert window.starts_at == datetime(2026, 3, 8, 1, 0, tzinfo=UTC)  # 02:00 CET
    assert window.duration == timedelta(minutes=90)
    assert list(window.assets.all()) == [asset]
    assert list(window.monitors.all()) == [monitor]
    assert response["Location"] == reverse("maintenance:detail", args=[window.pk])


def test_service_errors_show_on_the_named_field(client: Client, agent, org):
    client.force_login(agent)
    url = f"{reverse('maintenance:create')}?organization={org.pk}"

    response = client.post(url, form_data(organization=org.pk, rrule="FREQ=WEEKLY;BYDAY=MO"))

    assert response.status_code == 200
    assert "starts_at" in response.context["form"].errors
    assert not MaintenanceWindow.objects.exists()


def test_an_asset_of_another_organisation_is_not_a_choice(client: Client, agent, org):
    foreign = AssetFactory.create(organization=OrganizationFactory.create())
    client.force_login(agent)
    url = f"{reverse('maintenance:create')}?organization={org.pk}"

    response = client.post(url, form_data(organization=org.pk, assets=[foreign.pk]))

    assert "assets" in response.context["form"].errors


def test_customer_admin_may_read_but_not_add(client: Client, org_admin, org):
    window = make(org)
    client.force_login(org_admin)

    assert client.get(reverse("maintenance:detail", args=[window.pk])).status_code == 200
    assert client.get(reverse("maintenance:create")).status_code == 403
    assert client.get(reverse("maintenance:edit", args=[window.pk])).status_code == 403


def test_edit_and_delete(client: Client, agent, org):
    window = make(org)
    client.force_login(agent)

    edit = client.get(reverse("maintenance:edit", args=[window.pk]))
    saved = client.post(
        reverse("maintenance:edit", args=[window.pk]),
        form_data(starts_at="2026-03-02T10:00", rrule="", timezone="Europe/Berlin"),
    )
    window.refresh_from_db()
    deleted = client.post(reverse("maintenance:delete", args=[window.pk]))

    assert 'value="2026-03-02T09:00"' in edit.text  # UTC shown in the window's zone (UTC)
    assert saved.status_code == 302
    assert window.name == "Router firmware"
    assert window.starts_at == T0
    assert deleted.status_code == 302
    assert not MaintenanceWindow.objects.exists()


def test_month_calendar_lists_each_occurrence_on_its_day(client: Client, agent, org):
    make(org, rrule="FREQ=WEEKLY;COUNT=3")
    client.force_login(agent)

    response = client.get(
        reverse("maintenance:calendar"),
        {"organization": org.pk, "month": "2026-03", "tz": "Europe/Berlin"},
    )

    assert response.status_code == 200
    days = {
        day.day: [f"{b:%H:%M}" for b, _, _ in items]
        for week in response.context["weeks"]
        for day, items in week
        if day.month == 3 and items
    }
    assert days == {2: ["10:00"], 9: ["10:00"], 16: ["10:00"]}


def test_staff_download_the_organisation_feed(client: Client, agent, org):
    make(org, rrule="FREQ=WEEKLY;COUNT=3", timezone="America/New_York")
    client.force_login(agent)

    response = client.get(reverse("maintenance:feed", args=[org.slug]))

    assert response.status_code == 200
    event = icalendar.Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert event.get("dtstart").params["TZID"] == "America/New_York"
    assert client.post(reverse("maintenance:feed", args=[org.slug])).status_code == 405


@pytest.mark.parametrize("value", ["abc", "99999999999999999999", "-1"])
def test_a_tampered_organisation_id_is_not_found(client: Client, agent, value):
    client.force_login(agent)

    assert client.get(reverse("maintenance:list"), {"organization": value}).status_code == 404
    assert client.get(reverse("maintenance:create"), {"organization": value}).status_code == 404


@pytest.mark.parametrize("month", ["0001-01", "9999-12", "2026-13", "March", "2026-03-01"])
def test_a_month_out_of_range_or_malformed_shows_the_current_one(client: Client, agent, month):
    client.force_login(agent)

    with time_machine.travel(T0, tick=False):
        response = client.get(reverse("maintenance:calendar"), {"month": month, "tz": "Nowhere"})

    assert response.status_code == 200
    assert response.context["month"].isoformat() == "2026-03-01"
    assert response.context["zone"] == "UTC"
