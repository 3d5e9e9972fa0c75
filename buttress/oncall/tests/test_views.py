"""On-call pages and the iCalendar feeds."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.oncall import services
from buttress.oncall.models import Layer, Override
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(org):
    schedule = services.create_schedule(
        actor=None, organization=org, name="Database", timezone="Europe/Berlin"
    )
    engineers = [
        UserFactory.create(role=Role.AGENT, full_name=name) for name in ("Primary A", "Primary B")
    ]
    services.add_layer(
        schedule,
        actor=None,
        name="Primary",
        rotation="daily",
        start_date=date(2026, 1, 1),
        participants=engineers,
    )
    return schedule


def test_list_shows_who_is_on_call_now(client, admin_user, schedule):
    client.force_login(admin_user)

    with time_machine.travel(datetime(2026, 1, 2, 12, tzinfo=UTC), tick=False):
        page = client.get(reverse("oncall:list"))

    assert page.status_code == 200
    assert "Primary B" in page.content.decode()


def test_schedule_page_draws_two_weeks(client, admin_user, schedule):
    client.force_login(admin_user)

    with time_machine.travel(datetime(2026, 3, 25, 12, tzinfo=UTC), tick=False):
        page = client.get(reverse("oncall:detail", kwargs={"schedule_id": schedule.pk}))

    body = page.content.decode()
    assert page.status_code == 200
    assert body.count('class="oncall-day"') == 14
    # The day of the clock change is 23 hours long: 09:00 sits at 8/23 of it.
    assert "left: 34.783%" in body


def test_htmx_override_form_answers_the_timeline(client, admin_user, schedule):
    client.force_login(admin_user)
    cover = UserFactory.create(role=Role.AGENT, full_name="Cover")

    response = client.post(
        reverse("oncall:override_create", kwargs={"schedule_id": schedule.pk}),
        {
            "user": cover.pk,
            "starts_at": "2030-01-01T09:00",
            "ends_at": "2030-01-01T18:00",
        },
        headers={"HX-Request": "true"},
    )

    override = Override.objects.get()
    assert response.status_code == 200
    assert 'id="oncall-timeline"' in response.content.decode()
    assert "<html" not in response.content.decode()
    # Local time of the schedule's zone: 09:00 in Berlin is 08:00 UTC in winter.
    assert override.starts_at == datetime(2030, 1, 1, 8, tzinfo=UTC)


def test_htmx_override_form_shows_errors(client, admin_user, schedule):
    client.force_login(admin_user)
    cover = UserFactory.create(role=Role.AGENT)

    response = client.post(
        reverse("oncall:override_create", kwargs={"schedule_id": schedule.pk}),
        {"user": cover.pk, "starts_at": "2030-01-02T09:00", "ends_at": "2030-01-01T09:00"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert "must end after it starts" in response.content.decode()
    assert not Override.objects.exists()


def test_layer_form_takes_emails_and_weekday_windows(client, admin_user, schedule):
    client.force_login(admin_user)
    first, second = UserFactory.create_batch(2, role=Role.AGENT)

    response = client.post(
        reverse("oncall:layer_create", kwargs={"schedule_id": schedule.pk}),
        {
            "name": "Office",
            "rotation": "custom",
            "shift_length": "12",
            "shift_unit": "hours",
            "start_date": "2026-01-05",
            "handoff_time": "08:00",
            "participants": f"{second.email.upper()}\n{first.email}",
            "restrictions": "Mon-Fri 08:00-20:00",
        },
    )

    layer = Layer.objects.get(name="Office")
    assert response.status_code == 302
    assert layer.participant_ids() == [second.pk, first.pk]
    assert sorted(layer.restrictions) == ["0", "1", "2", "3", "4"]


def test_layer_form_names_an_unknown_email(client, admin_user, schedule):
    client.force_login(admin_user)

    response = client.post(
        reverse("oncall:layer_create", kwargs={"schedule_id": schedule.pk}),
        {
            "name": "Office",
            "rotation": "daily",
            "shift_length": "1",
            "shift_unit": "days",
            "start_date": "2026-01-05",
            "handoff_time": "08:00",
            "participants": "nobody@example.com",
        },
    )

    assert response.status_code == 200
    assert "No user nobody@example.com" in response.content.decode()


def test_customer_gets_no_on_call_pages(client, org_admin, schedule):
    client.force_login(org_admin)

    assert client.get(reverse("oncall:list")).status_code == 403
    assert (
        client.get(reverse("oncall:detail", kwargs={"schedule_id": schedule.pk})).status_code == 404
    )


def test_feed_is_valid_icalendar_with_stable_uids(client, schedule):
    token = services.rotate_schedule_feed(schedule, actor=None)
    url = reverse("oncall:feed", kwargs={"token": token})

    with time_machine.travel(datetime(2026, 2, 1, 12, tzinfo=UTC), tick=False):
        first = client.get(url)
    with time_machine.travel(datetime(2026, 2, 1, 18, tzinfo=UTC), tick=False):
        second = client.get(url)

    calendar = icalendar.Calendar.from_ical(first.content)
    events = list(calendar.walk("VEVENT"))
    assert calendar["PRODID"]
    assert calendar["VERSION"] == "2.0"
    assert events
    assert all("UID" in e and "DTSTAMP" in e and "DTSTART" in e for e in events)
    assert len({e["UID"] for e in events}) == len(events)
    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(second.content).walk("VEVENT")]
    assert uids == [str(e["UID"]) for e in events]


def test_personal_feed_has_only_my_shifts(client, agent, schedule):
    mine = schedule.layers.get().members.first().user
    token = services.rotate_user_feed(mine, actor=mine)

    with time_machine.travel(datetime(2026, 2, 1, 12, tzinfo=UTC), tick=False):
        answer = client.get(reverse("oncall:feed", kwargs={"token": token}))

    events = icalendar.Calendar.from_ical(answer.content).walk("VEVENT")
    assert events
    assert all("Database" in str(event["SUMMARY"]) for event in events)
    # Every other day: a two-person daily rotation (the first shift is cut at the feed's start).
    berlin = ZoneInfo("Europe/Berlin")
    starts = sorted(_start(event).astimezone(berlin) for event in events)[1:]
    assert all((b.date() - a.date()).days == 2 for a, b in itertools.pairwise(starts))
    assert {start.strftime("%H:%M") for start in starts} == {"09:00"}


def _start(event: Any) -> datetime:
    value = event.decoded("DTSTART")
    assert isinstance(value, datetime)
    return value


def test_unknown_feed_address_is_not_found(client):
    response = client.get(reverse("oncall:feed", kwargs={"token": "abc_def"}))

    assert response.status_code == 404


def test_my_feed_page_issues_an_address_once(client, agent):
    client.force_login(agent)

    response = client.post(reverse("oncall:my_feed"))

    assert response.status_code == 200
    assert "/oncall/feeds/" in response.content.decode()


def test_override_form_refuses_a_garbled_time(client, admin_user, schedule):
    client.force_login(admin_user)
    cover = UserFactory.create(role=Role.AGENT)

    response = client.post(
        reverse("oncall:override_create", kwargs={"schedule_id": schedule.pk}),
        {"user": cover.pk, "starts_at": "yesterday", "ends_at": "2030-01-01T09:00"},
    )

    assert response.status_code == 200
    assert "Give a date and time" in response.content.decode()
    assert not Override.objects.exists()


def test_layer_edit_form_shows_restrictions_as_lines(client, admin_user, schedule):
    client.force_login(admin_user)
    layer = schedule.layers.get()
    layer.restrictions = {"0": [["09:00", "17:00"]], "5": [["00:00", "24:00"]]}
    layer.save()

    page = client.get(reverse("oncall:layer_edit", kwargs={"layer_id": layer.pk}))

    assert "Mon 09:00-17:00\nSat 00:00-24:00" in page.content.decode()


def _lookup(client, schedule, **params: str):
    return client.get(reverse("oncall:lookup", kwargs={"schedule_id": schedule.pk}), params)


def test_who_is_on_call_at_an_instant_is_read_in_the_schedules_zone(client, admin_user, schedule):
    client.force_login(admin_user)

    # Daily hand-over at 09:00 Berlin: 08:30 there is still the first day's turn.
    before = _lookup(client, schedule, at="2026-01-02T08:30").content.decode()
    after = _lookup(client, schedule, at="2026-01-02T09:30").content.decode()

    assert "Primary A" in before
    assert "Primary B" not in before
    assert "Primary B" in after
    assert "Fri 2026-01-02 09:00 CET" in after  # the shift's start, in the schedule's zone


def test_who_is_on_call_over_a_range_lists_each_shift(client, admin_user, schedule):
    client.force_login(admin_user)

    page = _lookup(client, schedule, start="2026-01-01T12:00", end="2026-01-04T12:00")

    body = page.content.decode()
    assert page.status_code == 200
    assert body.count("<tr>") == 1 + 4  # the header row and four shifts, clipped to the range
    assert "Thu 2026-01-01 12:00 CET" in body


def test_a_bad_lookup_is_a_form_error(client, admin_user, schedule):
    client.force_login(admin_user)
    cases = {
        "bad instant": {"at": "yesterday"},
        "instant and range": {"at": "2026-01-02T08:30", "start": "2026-01-01T00:00"},
        "half a range": {"start": "2026-01-01T00:00"},
        "backwards": {"start": "2026-01-03T00:00", "end": "2026-01-01T00:00"},
        "too long": {"start": "2026-01-01T00:00", "end": "2027-06-01T00:00"},
        "far future": {"at": "9999-01-01T00:00"},
    }
    for name, params in cases.items():
        page = _lookup(client, schedule, **params)
        assert page.status_code == 400, name
        assert page.context["form"].errors, name
        assert page.context.get("found") is None, name


def test_a_schedule_of_another_organisation_cannot_be_looked_up(client, org):
    from buttress.testing.factories import OrganizationFactory

    other = services.create_schedule(
        actor=None, organization=OrganizationFactory.create(slug="other"), name="Theirs"
    )
    client.force_login(UserFactory.create(role=Role.ORG_ADMIN, organization=org))

    assert _lookup(client, other, at="2026-01-02T08:30").status_code == 404
