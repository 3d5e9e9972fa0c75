"""/api/v1/oncall: schedules, layers, overrides, swaps and who is on call."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from buttress.accounts.models import Role
from buttress.api.tests.conftest import api_as
from buttress.oncall import services
from buttress.oncall.models import Schedule
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineers():
    return [UserFactory.create(role=Role.AGENT) for _ in range(2)]


def _schedule_with_layer(org, engineers, **kwargs):
    schedule = services.create_schedule(actor=None, organization=org, name="Ops", **kwargs)
    services.add_layer(
        schedule,
        actor=None,
        name="Primary",
        rotation="daily",
        start_date=date(2026, 1, 1),
        participants=engineers,
    )
    return schedule


def test_admin_creates_a_schedule_with_a_layer_and_asks_who_is_on_call(admin_user, org, engineers):
    client = api_as(admin_user)

    created = client.post(
        "/oncall/schedules",
        {"organization": org.pk, "name": "Database", "timezone": "Europe/Berlin"},
    )
    schedule_id = created.json()["id"]
    layer = client.post(
        f"/oncall/schedules/{schedule_id}/layers",
        {
            "name": "Primary",
            "rotation": "weekly",
            "start_date": "2026-01-05",
            "handoff_time": "09:00",
            "participants": [engineers[0].pk, engineers[1].pk],
            "restrictions": {"0": [["09:00", "17:00"]]},
        },
    )
    at_monday_ten = client.get(
        f"/oncall/schedules/{schedule_id}/on-call", at="2026-01-12T10:00:00+01:00"
    )
    at_monday_night = client.get(
        f"/oncall/schedules/{schedule_id}/on-call", at="2026-01-12T20:00:00+01:00"
    )

    assert created.status_code == 201
    assert layer.status_code == 201, layer.json()
    assert layer.json()["participants"] == [engineers[0].pk, engineers[1].pk]
    [shift] = at_monday_ten.json()
    assert shift["user"] == engineers[1].pk
    assert shift["end"].startswith("2026-01-12T16:00:00")
    assert at_monday_night.json() == []


def test_range_lists_shifts(admin_user, org, engineers):
    schedule = _schedule_with_layer(org, engineers)

    response = api_as(admin_user).get(
        f"/oncall/schedules/{schedule.pk}/on-call",
        start="2026-01-10T00:00:00Z",
        end="2026-01-12T00:00:00Z",
    )

    assert response.status_code == 200
    assert [s["start"][:13] for s in response.json()] == [
        "2026-01-10T00",
        "2026-01-10T09",
        "2026-01-11T09",
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-01-10T00:00:00Z"}, "end"),
        ({"start": "2026-01-10T00:00:00Z", "end": "2027-06-01T00:00:00Z"}, "end"),
        ({"at": "2026-01-10T00:00:00"}, "at"),
    ],
)
def test_bad_questions_are_400_naming_the_field(admin_user, org, engineers, params, field):
    schedule = _schedule_with_layer(org, engineers)

    response = api_as(admin_user).get(f"/oncall/schedules/{schedule.pk}/on-call", **params)

    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_swap_endpoint_records_who_swapped_with_whom(agent, org, engineers):
    schedule = _schedule_with_layer(org, engineers)
    client = api_as(agent)

    swap = client.post(
        f"/oncall/schedules/{schedule.pk}/swaps",
        {
            "user": engineers[1].pk,
            "replaces": engineers[0].pk,
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2026-01-03T00:00:00Z",
        },
    )
    listed = client.get(f"/oncall/schedules/{schedule.pk}/swaps")
    overrides = client.get(f"/oncall/schedules/{schedule.pk}/overrides")

    assert swap.status_code == 201, swap.json()
    assert swap.json()["kind"] == "swap"
    assert swap.json()["replaces"] == engineers[0].pk
    assert [item["id"] for item in listed.json()["items"]] == [swap.json()["id"]]
    assert overrides.json()["items"] == []


def test_viewer_reads_but_may_not_change(viewer, org, engineers):
    schedule = _schedule_with_layer(org, engineers)
    client = api_as(viewer)

    assert client.get(f"/oncall/schedules/{schedule.pk}").status_code == 200
    assert client.patch(f"/oncall/schedules/{schedule.pk}", {"name": "x"}).status_code == 403


def test_limited_agent_may_not_create_a_provider_wide_schedule(org):
    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(org)

    response = api_as(limited).post("/oncall/schedules", {"name": "Everyone"})

    assert response.status_code == 403
    assert not Schedule.objects.exists()


def test_customers_see_no_schedules(org_admin, org, engineers):
    schedule = _schedule_with_layer(org, engineers)
    client = api_as(org_admin)

    assert client.get("/oncall/schedules").json()["items"] == []
    assert client.get(f"/oncall/schedules/{schedule.pk}").status_code == 404


def test_who_is_on_call_now_across_schedules(admin_user, org, engineers):
    first = _schedule_with_layer(org, engineers)
    empty = services.create_schedule(actor=None, organization=None, name="Empty")

    with time_machine.travel(datetime(2026, 1, 10, 12, tzinfo=UTC), tick=False):
        response = api_as(admin_user).get("/oncall/now")

    answers = {item["schedule"]: item for item in response.json()}
    assert answers[first.pk]["shift"]["user"] == engineers[1].pk
    assert answers[first.pk]["shift"]["end"].startswith("2026-01-11T09:00")
    assert answers[empty.pk]["shift"] is None


def test_schedule_feed_address_serves_icalendar(admin_user, org, engineers, client):
    schedule = _schedule_with_layer(org, engineers)

    issued = api_as(admin_user).post(f"/oncall/schedules/{schedule.pk}/feed")
    path = issued.json()["url"].split("testserver", 1)[1]
    answer = client.get(path)

    assert issued.status_code == 200
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in answer.content


def test_layer_with_unknown_participant_is_400(admin_user, org, engineers):
    schedule = _schedule_with_layer(org, engineers)

    response = api_as(admin_user).post(
        f"/oncall/schedules/{schedule.pk}/layers",
        {"name": "X", "start_date": "2026-01-01", "participants": [2**62]},
    )

    assert response.status_code == 400
    assert "participants" in response.json()["detail"]
