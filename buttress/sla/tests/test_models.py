from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buttress.sla import services
from buttress.sla.calendar import BusinessCalendar
from buttress.sla.holiday_sources import holidays_for
from buttress.sla.models import (
    Calendar,
    PolicyRule,
    engine_years,
    first_match,
    parse_weekly,
    select_policy,
)
from buttress.sla.tests.helpers import make_calendar, make_policy
from buttress.testing.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@dataclass
class FakeTicket:
    organization_id: int
    type: str = "incident"
    category: str = ""
    priority: str = "P3"


def test_weekly_json_parses_to_engine_windows_with_24_00_as_midnight():
    parsed = parse_weekly(
        {"0": [["13:00", "17:00"], ["09:00", "12:00"]], "6": [["22:00", "24:00"]]}
    )

    assert parsed == {
        0: [(time(9), time(12)), (time(13), time(17))],
        6: [(time(22), time(0))],
    }


def test_stored_calendar_engine_matches_a_directly_built_business_calendar():
    calendar = make_calendar(
        holidays=["2026-12-24"],
        closures=[["2026-12-22T15:00:00+01:00", "2026-12-22T17:00:00+01:00"]],
    )
    direct = BusinessCalendar(
        "Europe/Berlin",
        {day: [(time(9), time(12)), (time(13), time(17))] for day in range(5)},
        [date(2026, 12, 24)],
        [
            (
                datetime(2026, 12, 22, 14, tzinfo=UTC),
                datetime(2026, 12, 22, 16, tzinfo=UTC),
            )
        ],
    )
    start = datetime(2026, 12, 21, 8, tzinfo=UTC)

    engine = Calendar.objects.get(pk=calendar.pk).engine(range(2025, 2028))

    for hours in (1, 7, 9, 20, 40):
        assert engine.add(start, timedelta(hours=hours)) == direct.add(
            start, timedelta(hours=hours)
        )
    assert engine.between(start, start + timedelta(days=9)) == direct.between(
        start, start + timedelta(days=9)
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offset=st.integers(min_value=0, max_value=60 * 24 * 60),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 20),
)
def test_stored_calendar_with_country_holidays_agrees_with_the_engine(offset, minutes):
    calendar = Calendar(
        name="Berlin",
        timezone="Europe/Berlin",
        weekly={str(day): [["08:00", "16:30"]] for day in range(5)},
        holiday_country="DE",
        holiday_subdivision="BE",
    )
    years = range(2025, 2029)
    direct = BusinessCalendar.office_hours(
        "Europe/Berlin", time(8), time(16, 30), holidays=holidays_for("DE", "BE", years)
    )
    start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=offset)

    due = calendar.engine(years).add(start, timedelta(minutes=minutes))

    assert due == direct.add(start, timedelta(minutes=minutes))
    assert calendar.engine(years).between(start, due) == timedelta(minutes=minutes)


def test_country_holidays_are_business_time_no_more():
    calendar = make_calendar(holiday_country="DE")
    christmas = datetime(2026, 12, 25, 10, tzinfo=UTC)  # a Friday, a public holiday

    engine = calendar.engine(engine_years(christmas))

    assert engine.between(christmas, christmas + timedelta(hours=2)) == timedelta(0)


def test_engine_is_cached_per_instance_and_set_of_years():
    calendar = make_calendar()

    first = calendar.engine([2026])

    assert calendar.engine([2026]) is first
    assert calendar.engine([2026, 2027]) is not first


def test_first_matching_rule_wins_in_position_order(org):
    general = make_policy(name="General")
    vip = make_policy(name="VIP", organization=org, calendar=general.calendar)
    services.create_rule(actor=None, policy=general, position=20)
    services.create_rule(actor=None, policy=vip, position=10, organization=org)

    assert select_policy(FakeTicket(organization_id=org.pk)) == vip


def test_a_ticket_no_specific_rule_matches_gets_the_default(org):
    general = make_policy(name="General")
    urgent = make_policy(name="Urgent", calendar=general.calendar)
    services.create_rule(actor=None, policy=urgent, position=10, priority="P1")
    services.create_rule(actor=None, policy=general, position=20)

    assert select_policy(FakeTicket(organization_id=org.pk, priority="P2")) == general
    assert select_policy(FakeTicket(organization_id=org.pk, priority="P1")) == urgent


def test_another_organisations_rule_does_not_apply(org):
    other = OrganizationFactory.create()
    theirs = make_policy(name="Theirs", organization=other)
    services.create_rule(actor=None, policy=theirs, position=10, organization=other)

    assert select_policy(FakeTicket(organization_id=org.pk)) is None


def test_conditions_combine_and_category_ignores_case(org):
    policy = make_policy()
    rule = PolicyRule(
        position=1, organization=org, ticket_type="problem", category="Network", policy=policy
    )
    ticket = FakeTicket(organization_id=org.pk, type="problem", category="network")

    assert first_match([rule], ticket) == policy
    assert first_match([rule], FakeTicket(organization_id=org.pk, category="network")) is None
