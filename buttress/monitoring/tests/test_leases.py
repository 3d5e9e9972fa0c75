from __future__ import annotations

from datetime import timedelta

import pytest

from buttress.lib.timeutil import now
from buttress.monitoring import leases, services
from buttress.monitoring.models import Monitor, Runner

LEASE = timedelta(seconds=30)


def make(org, count: int) -> list[int]:
    return [
        services.create_monitor(
            org, actor=None, name=f"site {n}", kind="tcp", config={"host": "127.0.0.1", "port": 9}
        ).pk
        for n in range(count)
    ]


def cycle(owner: str, at=None) -> leases.Cycle:
    at = at or now()
    return leases.cycle(owner, at=at, lease=LEASE, host="h", pid=1, started_at=at, checks=0)


@pytest.mark.django_db
def test_claim_takes_free_and_expired_monitors_but_not_held_ones(org):
    free, held, expired = make(org, 3)
    at = now()
    Monitor.objects.filter(pk=held).update(lease_owner="b", lease_expires_at=at + LEASE)
    Monitor.objects.filter(pk=expired).update(lease_owner="c", lease_expires_at=at - LEASE)

    assert leases.claim("a", at=at, lease=LEASE, limit=10) == [free, expired]
    assert Monitor.objects.get(pk=held).lease_owner == "b"
    assert Monitor.objects.get(pk=expired).lease_owner == "a"


@pytest.mark.django_db
def test_paused_monitors_and_heartbeats_are_never_claimed(org):
    (checked,) = make(org, 1)
    paused = services.create_monitor(
        org, actor=None, name="paused", kind="tcp", config={"host": "127.0.0.1", "port": 9}
    )
    services.pause_monitor(paused, actor=None)
    services.create_monitor(org, actor=None, name="backup", kind="heartbeat")

    assert leases.claim("a", at=now(), lease=LEASE, limit=10) == [checked]


@pytest.mark.django_db
def test_a_second_runner_gets_half_once_the_first_releases_its_excess(org):
    make(org, 10)
    assert len(cycle("a").held) == 10
    # b beats but finds nothing free; a, seeing two runners, releases down to its share.
    assert cycle("b").held == {}
    assert len(cycle("a").held) == 5
    assert len(cycle("b").held) == 5
    owners = set(Monitor.objects.values_list("lease_owner", flat=True))
    assert owners == {"a", "b"}


@pytest.mark.django_db
def test_a_silent_runner_stops_counting_and_its_monitors_move_after_the_lease(org):
    make(org, 6)
    start = now()
    cycle("a", start)
    cycle("b", start)
    cycle("a", start)
    cycle("b", start)
    later = start + LEASE + timedelta(seconds=1)
    # b never beats again: its leases and its beat are past.
    assert len(cycle("a", later).held) == 6
    assert Runner.objects.filter(name="a").get().held == 6


@pytest.mark.django_db
def test_forget_releases_every_lease_and_the_beat(org):
    make(org, 3)
    cycle("a")
    leases.forget("a")
    assert not Runner.objects.exists()
    assert set(Monitor.objects.values_list("lease_owner", flat=True)) == {""}


@pytest.mark.django_db
@pytest.mark.parametrize("phase", [0.0, 0.3, 0.6, 0.99])
def test_a_dead_runners_monitors_are_claimed_within_one_lease_period(org, phase):
    make(org, 6)
    start = now()
    step = leases.renew_every(LEASE)
    cycle("a", start)
    cycle("b", start)
    cycle("a", start)
    # b renews once more and dies at once: the latest its leases can end.
    died = start + step * 0.5
    cycle("b", died)
    assert len(cycle("a", died).held) == 3

    # a cycles every quarter period, at any phase relative to b's death.
    at = died + step * phase
    while len(cycle("a", at).held) < 6:
        assert at - died <= LEASE, "not taken over within one lease period"
        at += step

    # Not before the leases ended: a runner that is one renewal late keeps its monitors.
    assert at - died > step
    assert at - died <= LEASE * 3 / 4
