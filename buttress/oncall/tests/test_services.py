"""On-call services: validation, audit, and who is on call for the stored schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buttress.accounts.models import Role
from buttress.audit.models import AuditEntry
from buttress.oncall import services
from buttress.oncall.models import CalendarFeed, Override
from buttress.testing.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def people():
    return [UserFactory.create(role=Role.AGENT, full_name=f"Engineer {n}") for n in range(3)]


@pytest.fixture
def schedule(org):
    return services.create_schedule(
        actor=None, organization=org, name="Database", timezone="Europe/Berlin"
    )


def test_created_schedule_is_audited(org, admin_user):
    schedule = services.create_schedule(
        actor=admin_user, organization=org, name="Network", timezone="America/New_York"
    )

    entry = AuditEntry.objects.get(object_id=str(schedule.pk), action="create")
    assert entry.actor == admin_user
    assert entry.changes["timezone"] == [None, "America/New_York"]


def test_unknown_zone_is_refused_on_its_field(org):
    with pytest.raises(ValidationError) as caught:
        services.create_schedule(actor=None, organization=org, name="X", timezone="Mars/Base")

    assert "timezone" in caught.value.message_dict


def test_daily_rotation_hands_off_at_nine_berlin_time_across_the_clock_change(schedule, people):
    services.add_layer(
        schedule,
        actor=None,
        name="Primary",
        rotation="daily",
        start_date=date(2026, 3, 1),
        handoff_time=time(9),
        participants=people[:2],
    )

    found = services.shifts(schedule, utc(2026, 3, 28, 12), utc(2026, 3, 31, 12))

    assert [s.start for s in found[1:]] == [
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 7),
        utc(2026, 3, 31, 7),
    ]
    assert found[0].end == utc(2026, 3, 29, 7)


def test_on_call_answers_the_users(schedule, people):
    services.add_layer(
        schedule,
        actor=None,
        name="Primary",
        rotation="weekly",
        start_date=date(2026, 1, 5),
        participants=[people[0], people[1]],
    )

    assert services.on_call(schedule, utc(2026, 1, 7, 12)) == [people[0]]
    assert services.on_call(schedule, utc(2026, 1, 13, 12)) == [people[1]]
    assert services.on_call(schedule, utc(2026, 1, 1, 12)) == []


def test_restricted_higher_layer_wins_during_its_hours(schedule, people):
    services.add_layer(
        schedule,
        actor=None,
        name="Nights and weekends",
        start_date=date(2026, 1, 1),
        participants=[people[0]],
    )
    services.add_layer(
        schedule,
        actor=None,
        name="Office hours",
        start_date=date(2026, 1, 1),
        participants=[people[1]],
        restrictions={str(day): [["09:00", "17:00"]] for day in range(5)},
    )

    # Wednesday 7 January 2026, 10:00 and 20:00 in Berlin.
    assert services.on_call(schedule, utc(2026, 1, 7, 9)) == [people[1]]
    assert services.on_call(schedule, utc(2026, 1, 7, 19)) == [people[0]]


def test_override_and_swap(schedule, people, admin_user):
    services.add_layer(
        schedule,
        actor=None,
        name="Primary",
        rotation="custom",
        shift_length=12,
        shift_unit="hours",
        start_date=date(2026, 1, 1),
        handoff_time=time(8),
        participants=[people[0], people[1]],
    )
    swap = services.add_swap(
        schedule,
        actor=admin_user,
        user=people[2],
        replaces=people[0],
        starts_at=utc(2026, 1, 5, 0),
        ends_at=utc(2026, 1, 6, 0),
    )

    found = services.shifts(schedule, utc(2026, 1, 5, 0), utc(2026, 1, 6, 0))

    assert [(s.start.hour, s.user, s.source) for s in found] == [
        (0, people[1], "layer"),
        (7, people[2], "swap"),
        (19, people[1], "layer"),
    ]
    assert found[1].override == swap
    assert AuditEntry.objects.filter(object_id=str(swap.pk), action="create").exists()


def test_swap_with_someone_not_on_call_is_refused(schedule, people):
    services.add_layer(
        schedule, actor=None, name="P", start_date=date(2026, 1, 1), participants=[people[0]]
    )

    with pytest.raises(ValidationError) as caught:
        services.add_swap(
            schedule,
            actor=None,
            user=people[2],
            replaces=people[1],
            starts_at=utc(2026, 1, 5),
            ends_at=utc(2026, 1, 6),
        )

    assert "replaces" in caught.value.message_dict


def test_override_must_end_after_it_starts(schedule, people):
    with pytest.raises(ValidationError) as caught:
        services.add_override(
            schedule, actor=None, user=people[0], starts_at=utc(2026, 1, 2), ends_at=utc(2026, 1, 1)
        )

    assert "ends_at" in caught.value.message_dict
    assert not Override.objects.exists()


def test_customer_user_cannot_be_on_call(schedule, org):
    customer = UserFactory.create(role=Role.END_USER, organization=org)

    with pytest.raises(ValidationError) as caught:
        services.add_layer(
            schedule, actor=None, name="P", start_date=date(2026, 1, 1), participants=[customer]
        )

    assert "participants" in caught.value.message_dict


def test_staff_limited_to_another_organisation_cannot_be_on_call(schedule):
    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(OrganizationFactory.create())

    with pytest.raises(ValidationError):
        services.add_layer(
            schedule, actor=None, name="P", start_date=date(2026, 1, 1), participants=[limited]
        )


def test_overlapping_restrictions_are_refused(schedule, people):
    with pytest.raises(ValidationError) as caught:
        services.add_layer(
            schedule,
            actor=None,
            name="P",
            start_date=date(2026, 1, 1),
            participants=[people[0]],
            restrictions={"0": [["09:00", "17:00"], ["16:00", "18:00"]]},
        )

    assert "overlap" in caught.value.message_dict["restrictions"][0]


def test_updating_participants_is_audited_in_order(schedule, people, admin_user):
    layer = services.add_layer(
        schedule, actor=None, name="P", start_date=date(2026, 1, 1), participants=people[:2]
    )

    services.update_layer(layer, actor=admin_user, participants=[people[1], people[0]])

    entry = AuditEntry.objects.filter(object_id=str(layer.pk), action="update").get()
    emails = [people[0].email, people[1].email]
    assert entry.changes["participants"] == [emails, emails[::-1]]
    assert layer.participant_ids() == [people[1].pk, people[0].pk]


def test_deactivated_user_is_on_call_for_nobody(schedule, people):
    services.add_layer(
        schedule, actor=None, name="P", start_date=date(2026, 1, 1), participants=[people[0]]
    )
    people[0].is_active = False
    people[0].save()

    assert services.on_call(schedule, utc(2026, 2, 1)) == []


def test_shifts_of_many_schedules_take_a_fixed_number_of_queries(org, people):
    schedules = []
    for n in range(6):
        schedule = services.create_schedule(actor=None, organization=org, name=f"S{n}")
        for position in range(3):
            services.add_layer(
                schedule,
                actor=None,
                name=f"L{position}",
                start_date=date(2026, 1, 1),
                participants=people,
            )
        schedules.append(schedule)

    with CaptureQueriesContext(connection) as queries:
        services.shifts_of(schedules, utc(2026, 2, 1), utc(2026, 2, 15))

    # Layers, their members, the users, and one override query per schedule.
    assert len(queries) <= 3 + len(schedules)


def test_user_feed_token_finds_the_feed_and_rotation_retires_it(agent):
    first = services.rotate_user_feed(agent, actor=agent)
    feed = services.feed_for_token(first)
    second = services.rotate_user_feed(agent, actor=agent)

    assert feed is not None
    assert feed.user == agent
    assert services.feed_for_token(first) is None
    assert services.feed_for_token(second) is not None
    assert first.split("_", 1)[1] not in CalendarFeed.objects.get().digest


def test_tampered_feed_token_finds_nothing(agent):
    token = services.rotate_user_feed(agent, actor=agent)

    assert services.feed_for_token(token[:-2] + "xx") is None
    assert services.feed_for_token("nothing") is None


def test_user_shifts_span_their_schedules(org, people):
    first = services.create_schedule(actor=None, organization=org, name="A")
    second = services.create_schedule(actor=None, organization=None, name="B")
    for schedule in (first, second):
        services.add_layer(
            schedule, actor=None, name="P", start_date=date(2026, 1, 1), participants=[people[0]]
        )

    found = services.user_shifts(people[0], utc(2026, 1, 10), utc(2026, 1, 11))

    assert {s.schedule.pk for s in found} == {first.pk, second.pk}
    assert timedelta(days=1) == found[0].end - found[0].start
