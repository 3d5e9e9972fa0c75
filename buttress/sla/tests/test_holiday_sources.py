from __future__ import annotations

from datetime import date

import pytest

from buttress.sla.holiday_sources import holidays_for, holidays_from_ical


def feed(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{n}\r\n{e}END:VEVENT\r\n" for n, e in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def test_country_holidays_include_the_subdivisions_own_days():
    scotland = holidays_for("GB", "SCT", [2025])
    england = holidays_for("GB", "ENG", [2025])

    assert date(2025, 1, 2) in scotland
    assert date(2025, 1, 2) not in england
    assert date(2025, 12, 25) in england


def test_country_holidays_cover_every_requested_year():
    found = holidays_for("FR", None, range(2024, 2027))

    assert {date(2024, 7, 14), date(2025, 7, 14), date(2026, 7, 14)} <= found


def test_unknown_country_is_refused():
    with pytest.raises(ValueError, match="country 'XX'"):
        holidays_for("XX", None, [2025])


def test_unknown_subdivision_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"no subdivision 'ZZ'.*SCT"):
        holidays_for("GB", "ZZ", [2025])


def test_ical_all_day_event_is_one_date():
    data = feed("DTSTART;VALUE=DATE:20251225\r\nSUMMARY:Christmas\r\n")

    assert holidays_from_ical(data) == {date(2025, 12, 25)}


def test_ical_multi_day_event_covers_each_date_up_to_its_exclusive_end():
    data = feed("DTSTART;VALUE=DATE:20251224\r\nDTEND;VALUE=DATE:20251227\r\n")

    assert holidays_from_ical(data.encode()) == {
        date(2025, 12, 24),
        date(2025, 12, 25),
        date(2025, 12, 26),
    }


def test_ical_duration_gives_the_length():
    data = feed("DTSTART;VALUE=DATE:20250818\r\nDURATION:P2D\r\n")

    assert holidays_from_ical(data) == {date(2025, 8, 18), date(2025, 8, 19)}


def test_ical_recurring_event_is_expanded_within_the_years_asked():
    data = feed(
        "DTSTART;VALUE=DATE:20200101\r\nRRULE:FREQ=YEARLY\r\nEXDATE;VALUE=DATE:20260101\r\n"
    )

    assert holidays_from_ical(data, years=[2025, 2026, 2027]) == {
        date(2025, 1, 1),
        date(2027, 1, 1),
    }


def test_ical_recurrence_with_a_utc_until_stops_there():
    data = feed(
        "DTSTART;VALUE=DATE:20250505\r\nDTEND;VALUE=DATE:20250506\r\n"
        "RRULE:FREQ=YEARLY;UNTIL=20270101T000000Z\r\n"
    )

    assert holidays_from_ical(data) == {date(2025, 5, 5), date(2026, 5, 5)}


def test_ical_open_ended_recurrence_without_years_is_bounded():
    data = feed("DTSTART;VALUE=DATE:20250101\r\nRRULE:FREQ=YEARLY\r\n")

    found = holidays_from_ical(data)

    assert min(found) == date(2025, 1, 1)
    assert max(found) == date(2035, 1, 1)


def test_ical_timed_and_cancelled_events_are_not_holidays():
    data = feed(
        "DTSTART:20250601T090000Z\r\nDTEND:20250601T100000Z\r\n",
        "DTSTART;VALUE=DATE:20250602\r\nSTATUS:CANCELLED\r\n",
    )

    assert holidays_from_ical(data) == set()


@pytest.mark.parametrize(
    "data",
    [
        "not a calendar",
        b"\xff\xfe garbage",
        "",
        feed("DTSTART;VALUE=DATE:20251225\r\nDTEND;VALUE=DATE:20251220\r\n"),
        feed("DTSTART;VALUE=DATE:20251225\r\nRRULE:FREQ=SOMETIMES\r\n"),
        feed("SUMMARY:no start\r\n"),
    ],
)
def test_malformed_ical_is_refused(data):
    with pytest.raises(ValueError, match="not a usable iCalendar holiday feed"):
        holidays_from_ical(data)
