from datetime import timedelta

import pytest

from buttress.accounts.models import ApiToken
from buttress.scheduler.models import PeriodicJob, SchedulerHeartbeat
from buttress.scheduler.registry import Timer, get_timer, register, timers
from buttress.scheduler.tasks import run_periodic_job


def test_apps_timers_modules_are_registered_at_start():
    assert "scheduler.periodic_job" in {timer.name for timer in timers()}


def test_a_timer_needs_a_nullable_datetime_column():
    with pytest.raises(TypeError, match="DateTimeField"):
        Timer("bad", PeriodicJob, "name", run_periodic_job)
    with pytest.raises(TypeError, match="nullable"):
        Timer("bad", SchedulerHeartbeat, "seen_at", run_periodic_job)


def test_a_timer_needs_a_positive_lease():
    with pytest.raises(ValueError, match="positive"):
        Timer("bad", ApiToken, "expires_at", run_periodic_job, lease=timedelta(0))


def test_registering_a_different_timer_under_a_taken_name_fails():
    taken = get_timer("scheduler.periodic_job")

    with pytest.raises(ValueError, match="already registered"):
        register(Timer(taken.name, ApiToken, "expires_at", run_periodic_job))
    assert register(taken) is taken


def test_an_unknown_timer_name_is_a_lookup_error():
    with pytest.raises(LookupError):
        get_timer("nope")
