import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buttress.audit.models import AuditEntry
from buttress.lib.pagination import InvalidCursor, decode_cursor, encode_cursor, paginate
from buttress.tenancy.models import Organization

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 1, tzinfo=UTC)


def _walk_forward(queryset: Any, order: tuple[str, ...], limit: int) -> tuple[list[Any], Any]:
    seen, cursor = [], None
    for _ in range(1000):
        page = paginate(queryset, order=order, cursor=cursor, limit=limit)
        seen.extend(page.items)
        if page.next_cursor is None:
            return seen, page
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def _walk_backward(queryset: Any, order: tuple[str, ...], limit: int, last_page: Any) -> list[Any]:
    seen, page = list(last_page.items), last_page
    while page.prev_cursor is not None:
        page = paginate(queryset, order=order, cursor=page.prev_cursor, limit=limit)
        seen[:0] = page.items
    return seen


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    names=st.lists(st.sampled_from(["a", "b", "B", "c", "zz", "é"]), max_size=30),
    limit=st.integers(min_value=1, max_value=12),
)
def test_walking_names_visits_every_row_once_in_order_both_ways(names, limit):
    Organization.objects.all().delete()
    for n, name in enumerate(names):
        # Duplicate names are allowed by the ordering (the id breaks ties); give unique slugs.
        Organization.objects.bulk_create([Organization(name=f"{name}{n:03d}", slug=f"o{n}")])
    queryset = Organization.objects.all()
    expected = list(queryset.order_by("name", "id"))

    forward, last = _walk_forward(queryset, ("name", "id"), limit)

    assert forward == expected
    assert _walk_backward(queryset, ("name", "id"), limit, last) == expected


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=5), max_size=30),
    limit=st.integers(min_value=1, max_value=10),
)
def test_walking_descending_datetimes_with_ties_visits_every_row_once(offsets, limit):
    AuditEntry.objects.all().delete()
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                at=START + timedelta(minutes=m), action="update", object_type="x", object_id="1"
            )
            for m in offsets
        ]
    )
    queryset = AuditEntry.objects.all()
    order = ("-at", "-id")
    expected = list(queryset.order_by(*order))

    forward, last = _walk_forward(queryset, order, limit)

    assert forward == expected
    assert _walk_backward(queryset, order, limit, last) == expected


def test_first_page_has_no_previous_and_last_has_no_next():
    for n in range(3):
        Organization.objects.create(name=f"org{n}", slug=f"org{n}")

    first = paginate(Organization.objects.all(), limit=2)
    second = paginate(Organization.objects.all(), cursor=first.next_cursor, limit=2)

    assert first.prev_cursor is None
    assert first.next_cursor is not None
    assert second.next_cursor is None
    assert second.prev_cursor is not None
    assert [o.name for o in second.items] == ["org2"]


def test_empty_list_has_no_cursors():
    page = paginate(Organization.objects.all())

    assert (page.items, page.next_cursor, page.prev_cursor) == ([], None, None)


def _raw(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        encode_cursor([1]),
        _raw({"v": {}}),
        _raw([1, 2]),
        _raw({"v": [{"x": 1}, 2]}),
        _raw({"v": [{"dt": "yesterday"}, 2]}),
        _raw({"v": [[1], 2]}),
    ],
)
def test_bad_cursors_are_refused(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, width=2)


def test_cursor_round_trips_datetimes():
    moment = START + timedelta(seconds=1.5)

    values, backwards = decode_cursor(encode_cursor([moment, 7], backwards=True), width=2)

    assert values == [moment, 7]
    assert backwards is True


@pytest.mark.parametrize("limit", [0, -3])
def test_limit_below_one_is_refused(limit):
    with pytest.raises(InvalidCursor):
        paginate(Organization.objects.all(), limit=limit)
