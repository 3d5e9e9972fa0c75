from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buttress.monitoring.states import (
    FLAP_START,
    WINDOW,
    State,
    Step,
    Thresholds,
    changes,
    step,
)

DEFAULT = Thresholds()
outcomes = st.lists(st.sampled_from(["up", "down", "unknown"]), max_size=80)
thresholds = st.builds(Thresholds, down_after=st.integers(1, 10), up_after=st.integers(1, 10))


def run(results: list[str], limits: Thresholds = DEFAULT, start: State | None = None) -> Step:
    state = start or State()
    last = Step(state, recheck=False, reason="")
    for outcome in results:
        last = step(last.state, outcome, limits)  # type: ignore[arg-type]
    return last


def health_oracle(results: list[str], limits: Thresholds) -> str:
    """Brute force: the health after ``results`` from the definition, read backwards."""
    judged = [r for r in results if r != "unknown"]
    health = "unknown"
    for end in range(1, len(judged) + 1):
        tail = judged[:end]
        if len(tail) >= limits.down_after and all(r == "down" for r in tail[-limits.down_after :]):
            health = "down"
        elif len(tail) >= limits.up_after and all(r == "up" for r in tail[-limits.up_after :]):
            health = "up"
    return health


def test_one_failure_leaves_an_up_monitor_up_and_asks_for_a_recheck():
    after = run(["up", "up", "down"])
    assert after.state.status == "up"
    assert after.recheck


def test_the_second_consecutive_failure_takes_it_down_with_a_reason():
    after = run(["up", "down", "down"])
    assert after.state.status == "down"
    assert not after.recheck
    assert after.reason == "2 consecutive failures"


def test_a_success_between_failures_starts_the_count_again():
    assert run(["up", "down", "up", "down"]).state.status == "up"


def test_up_after_m_consecutive_successes():
    limits = Thresholds(down_after=2, up_after=3)
    down = run(["down", "down"], limits)
    assert run(["up", "up"], limits, down.state).state.status == "down"
    assert run(["up", "up", "up"], limits, down.state).state.status == "up"


def test_a_new_monitor_stays_unknown_until_judged():
    assert run(["down"]).state.status == "unknown"
    assert run(["unknown", "unknown"]).state.status == "unknown"
    assert run(["up"]).state.status == "up"


def test_alternating_results_make_a_monitor_flap_and_it_settles_later():
    flapping = run(["up", "down"] * 6)
    assert flapping.state.status == "flapping"
    # Still changing but less: the hysteresis keeps it flapping.
    assert run(["up"] * 12, start=flapping.state).state.status == "flapping"
    state, reasons = flapping.state, []
    for _ in range(WINDOW):
        moved = step(state, "up", DEFAULT)
        if moved.state.status != state.status:
            reasons.append(moved.reason)
        state = moved.state
    assert state.status == "up"
    assert reasons == ["results settled; 17 consecutive successes"]


def test_thresholds_outside_one_to_ten_are_refused():
    with pytest.raises(ValueError, match="down_after"):
        Thresholds(down_after=0)


@given(results=outcomes, limits=thresholds)
def test_unknown_results_change_nothing(results, limits):
    with_unknowns = run(results, limits)
    without = run([r for r in results if r != "unknown"], limits)
    assert with_unknowns.state == without.state


@given(results=outcomes, limits=thresholds)
def test_health_follows_the_consecutive_counts(results, limits):
    assert run(results, limits).state.health == health_oracle(results, limits)


@given(results=outcomes, limits=thresholds)
def test_status_is_the_health_unless_the_window_flaps(results, limits):
    after = run(results, limits).state
    assert len(after.recent) <= WINDOW
    if after.status != "flapping":
        assert after.status == after.health
    else:
        assert changes(after.recent) > 0
    if changes(after.recent) >= FLAP_START:
        assert after.status == "flapping"


@given(limits=thresholds)
def test_a_down_monitor_needs_the_whole_count_of_failures(limits):
    almost = run(["up"] * limits.up_after + ["down"] * (limits.down_after - 1), limits)
    assert almost.state.status == "up"
    assert almost.recheck == (limits.down_after > 1)
    assert run(["down"], limits, almost.state).state.status == "down"
