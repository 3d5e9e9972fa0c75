"""The server-drawn latency lines: scale, placement and breaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from buttress.monitoring import charts

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@given(st.lists(st.floats(min_value=0.001, max_value=1e7), min_size=1, max_size=20))
def test_the_top_is_a_round_number_at_or_above_every_value(values: list[float]):
    top = charts.nice_top(values)

    written = f"{top:.0e}"  # one significant digit, e.g. 2e+02
    assert top >= max(values)
    assert top <= max(values) * 5
    assert written[0] in {"1", "2", "5"}
    assert float(written) == top


def test_points_are_placed_on_the_box_from_the_bottom_up():
    points = [(T0, 0.0), (T0 + timedelta(hours=1), 50.0), (T0 + timedelta(hours=2), 100.0)]

    path = charts.path(
        points, start=T0, end=T0 + timedelta(hours=2), top=100.0, width=200, height=50
    )

    assert path == "M0.0 50.0 L100.0 25.0 L200.0 0.0"


def test_a_missing_bucket_lifts_the_pen():
    points = [
        (T0, 10.0),
        (T0 + timedelta(hours=1), 10.0),
        (T0 + timedelta(hours=3), 10.0),  # the bucket of hour 2 had no results
        (T0 + timedelta(hours=4), None),
        (T0 + timedelta(hours=5), 10.0),
    ]

    path = charts.path(
        points,
        start=T0,
        end=T0 + timedelta(hours=5),
        top=10.0,
        width=50,
        height=10,
        max_gap=timedelta(hours=1),
    )

    assert [command[0] for command in path.split(" ") if command[0] in "ML"] == [
        "M",
        "L",
        "M",
        "M",
    ]


def test_a_chart_without_values_is_empty():
    chart = charts.chart(
        {"p50": [(T0, None)]}, start=T0, end=T0 + timedelta(days=1), step=timedelta(hours=1)
    )

    assert chart.empty
    assert chart.lines[0].path == ""
