"""What lets one runner carry many monitors: its check slots, the shared HTTP session, the
short-lived name cache, and the benchmark's count of every due slot."""

import asyncio
import heapq
import math
import time
from datetime import UTC, datetime

import pytest
from aiohttp import web

from bench.runner_load import percentile, slot_lags
from buttress.monitoring import checking
from buttress.monitoring.probes import HttpClient, HttpSpec, Network, probe_http
from buttress.monitoring.probes.network import CachedResolver, ResolutionFailed
from buttress.monitoring.probes.result import down, up
from buttress.monitoring.runner import MIN_SLOTS, Held, Runner, Slots, slots_needed
from buttress.monitoring.states import State, Thresholds
from buttress.monitoring.tests.servers import stub_network

# --- slots ------------------------------------------------------------------------------------


def test_slots_cover_every_target_hanging_to_its_time_out_with_a_recheck():
    # 10,000 monitors every 10 s with a 5 s time-out: each may hold a slot the whole interval.
    assert slots_needed([(5.0, 10)] * 10_000) == 11_000
    # 2,000 monitors every 60 s with a 3 s time-out: a tenth of them at once, plus headroom.
    assert slots_needed([(3.0, 60)] * 2_000) == 220


def test_a_monitor_never_needs_more_than_one_slot_and_few_monitors_get_the_minimum():
    assert slots_needed([(30.0, 10)] * 500) == 550
    assert slots_needed([(1.0, 60)] * 3) == MIN_SLOTS


def _held(pk: int, *, timeout: float, interval: int) -> Held:
    target = checking.Target(
        pk=pk,
        organization_id=1,
        name=f"m{pk}",
        kind="http",
        config={},
        interval=interval,
        thresholds=Thresholds(),
        state=State(),
        configured_by_staff=True,
        allow_private=True,
        check_due_at=None,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    spec = HttpSpec(f"http://127.0.0.1:1/{pk}", timeout=timeout, allow_private=True)
    return Held(target=target, spec=spec, problem="", state=State(), phase=0.0)


def test_the_default_concurrency_follows_the_monitors_held(settings):
    settings.MONITORING_RUNNER_CONCURRENCY = 0
    runner = Runner()
    runner.held = {pk: _held(pk, timeout=5.0, interval=10) for pk in range(1, 1001)}

    runner._size_slots()

    assert runner.concurrency == 1100
    assert runner._slots.limit == 1100


def test_a_set_concurrency_is_kept_whatever_the_monitors(settings):
    settings.MONITORING_RUNNER_CONCURRENCY = 0
    runner = Runner(concurrency=40)
    runner.held = {pk: _held(pk, timeout=5.0, interval=10) for pk in range(1, 1001)}

    runner._size_slots()

    assert runner.concurrency == 40
    assert runner._slots.limit == 40


def test_checks_waiting_for_a_slot_start_when_the_slots_grow():
    async def scenario() -> list[str]:
        slots = Slots(1)
        started: list[str] = []
        release = asyncio.Event()

        async def check(name: str) -> None:
            async with slots:
                started.append(name)
                await release.wait()

        tasks = [asyncio.create_task(check(name)) for name in ("a", "b", "c")]
        await asyncio.sleep(0.01)
        assert started == ["a"]
        slots.resize(3)
        await asyncio.sleep(0.01)
        assert started == ["a", "b", "c"]
        assert slots.busy == 3
        release.set()
        await asyncio.gather(*tasks)
        assert slots.busy == 0
        return started

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_a_check_cancelled_while_waiting_for_a_slot_takes_none():
    async def scenario() -> int:
        slots = Slots(1)
        release = asyncio.Event()

        async def hold() -> None:
            async with slots:
                await release.wait()

        async def wait_then_run() -> None:
            async with slots:
                pass

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(wait_then_run())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        await holder
        # The slot is free again: another check gets it at once.
        async with asyncio.timeout(1):
            await wait_then_run()
        return slots.busy

    assert asyncio.run(scenario()) == 0


# --- an overloaded runner ---------------------------------------------------------------------


def test_a_check_failing_while_the_runner_stalled_is_unknown_not_down(settings):
    runner = Runner()
    held = _held(7, timeout=5.0, interval=10)
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    runner._record(held, 0, at, down("timed out after 5.0 s"), stalled=True)
    runner._record(held, 0, at, up("HTTP 200 in 3 ms", latency_ms=3.0, detail={}), stalled=True)
    runner._record(held, 0, at, down("connection refused"), stalled=False)

    assert [(r.status, r.message) for r in runner._results] == [
        (
            "unknown",
            "not judged: the runner was overloaded during the check (timed out after 5.0 s)",
        ),
        ("up", "HTTP 200 in 3 ms"),
        ("down", "connection refused"),
    ]
    assert held.state.failures == 1  # the unknown result counted for nothing


def test_due_checks_wait_while_the_event_loop_runs_late(settings):
    runner = Runner()
    held = _held(3, timeout=5.0, interval=10)
    held.spec, held.problem = None, "no spec: judged at once, without a network"
    runner.held = {3: held}

    async def scenario() -> tuple[int, int]:
        runner._stopping, runner._wake = asyncio.Event(), asyncio.Event()
        runner._late = 5.0
        heapq.heappush(runner._heap, (asyncio.get_running_loop().time() - 1, 3, 0))
        dispatcher = asyncio.create_task(runner.dispatch())
        await asyncio.sleep(0.3)
        while_late = runner.stats.checks
        runner._late = 0.0
        await asyncio.sleep(0.3)
        runner._stopping.set()
        await dispatcher
        return while_late, runner.stats.checks

    assert asyncio.run(scenario()) == (0, 1)


def test_the_runner_notices_its_event_loop_stalling(settings):
    runner = Runner()

    async def scenario() -> float:
        runner._stopping = asyncio.Event()
        watcher = asyncio.create_task(runner.watch_loop())
        await asyncio.sleep(0.15)
        time.sleep(1.3)  # something holds the loop (here: this test) for longer than STALL
        await asyncio.sleep(0.15)
        runner._stopping.set()
        await watcher
        return runner._stalled_at

    assert asyncio.run(scenario()) > -math.inf


# --- the shared HTTP session ------------------------------------------------------------------


async def _counting_server() -> tuple[web.AppRunner, int, list[str], list[str | None]]:
    peers: list[str] = []
    cookies: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(str(request.transport.get_extra_info("peername")))
        cookies.append(request.headers.get("Cookie"))
        response = web.Response(text="ok")
        response.set_cookie("session", "secret")
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    return runner, server.sockets[0].getsockname()[1], peers, cookies


def test_checks_on_a_shared_session_each_open_their_own_connection_and_keep_no_cookies():
    async def scenario() -> tuple[list[str], list[str | None], list[str]]:
        runner, port, peers, cookies = await _counting_server()
        client = HttpClient()
        try:
            spec = HttpSpec(f"http://127.0.0.1:{port}/", allow_private=True)
            statuses = [str((await probe_http(spec, client=client)).status) for _ in range(3)]
            assert client.session() is client.session()  # one session for every check
        finally:
            await client.close()
            await runner.cleanup()
        return peers, cookies, statuses

    peers, cookies, statuses = asyncio.run(scenario())

    assert statuses == ["up", "up", "up"]
    assert len(set(peers)) == 3  # three connections (three client ports), none reused
    assert cookies == [None, None, None]


def test_each_check_on_a_shared_session_follows_its_own_address_policy():
    network = stub_network({"shop.example": ["127.0.0.1"]}, public=set())

    async def scenario() -> tuple[str, str, str]:
        runner, port, _, _ = await _counting_server()
        client = HttpClient()
        try:
            url = f"http://shop.example:{port}/"
            allowed = HttpSpec(url, allow_private=True)
            refused = HttpSpec(url, allow_private=False)
            results = await asyncio.gather(
                probe_http(allowed, network=network, client=client),
                probe_http(refused, network=network, client=client),
                probe_http(allowed, network=network, client=client),
            )
        finally:
            await client.close()
            await runner.cleanup()
        first, second, third = results
        return first.status, second.message, third.status

    allowed, refused, again = asyncio.run(scenario())

    assert allowed == again == "up"
    assert refused == (
        "refused: shop.example resolves to private address 127.0.0.1 "
        "(private targets are not allowed)"
    )


# --- the name cache ---------------------------------------------------------------------------


class _Names:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.failing: set[str] = set()

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        await asyncio.sleep(0.01)
        if host in self.failing:
            raise ResolutionFailed(host, "no such name")
        return ["203.0.113.7"]


def test_a_cached_name_is_resolved_once_per_ttl_and_concurrent_lookups_are_joined():
    names = _Names()
    clock = [100.0]
    cache = CachedResolver(names, ttl=5.0, clock=lambda: clock[0])

    async def scenario() -> None:
        answers = await asyncio.gather(*(cache("shop.example") for _ in range(20)))
        assert all(answer == ["203.0.113.7"] for answer in answers)
        clock[0] += 4.9
        await cache("shop.example")
        assert names.asked == ["shop.example"]
        clock[0] += 0.2
        await cache("shop.example")
        assert names.asked == ["shop.example", "shop.example"]

    asyncio.run(scenario())


def test_a_failed_lookup_is_not_cached_and_the_policy_still_judges_cached_addresses():
    names = _Names()
    names.failing.add("gone.example")
    cache = CachedResolver(names, ttl=60.0)
    network = Network(resolve=cache, is_public=lambda address: False)

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(ResolutionFailed):
                await cache("gone.example")
        assert names.asked == ["gone.example", "gone.example"]
        await cache("shop.example")
        # The cached answer is a private address to this network's policy: refused every time.
        for _ in range(2):
            with pytest.raises(Exception, match="refused"):
                await network.addresses("shop.example", allow_private=False)

    asyncio.run(scenario())


def test_the_name_cache_keeps_at_most_its_size():
    names = _Names()
    cache = CachedResolver(names, ttl=60.0, size=2)

    async def scenario() -> None:
        for host in ("a.example", "b.example", "c.example", "c.example", "a.example"):
            await cache(host)

    asyncio.run(scenario())

    assert names.asked == ["a.example", "b.example", "c.example", "a.example"]


# --- the benchmark's lag ----------------------------------------------------------------------


def test_every_due_slot_counts_and_a_slot_without_a_result_is_a_miss():
    phases = {1: 2.0, 2: 7.0}
    # Window [100, 130): monitor 1 is due at 102, 112, 122; monitor 2 at 107, 117, 127.
    starts = [
        (1, 102.05),  # on time
        (1, 103.05),  # a re-check of the same slot
        (1, 121.90),  # a hair early for 122
        (2, 107.40),
        (2, 128.00),  # 1 s late for 127; 117 was never checked
    ]

    lags, misses, extra = slot_lags(phases, starts, 100.0, 130.0)

    assert sorted(round(lag, 2) for lag in lags) == [-0.1, 0.05, 0.4, 1.0]
    assert misses == 2  # monitor 1 at 112, monitor 2 at 117
    assert extra == 1


def test_a_check_more_than_an_interval_late_leaves_its_slot_missed():
    lags, misses, _ = slot_lags({1: 0.0}, [(1, 112.0)], 100.0, 120.0)

    assert lags == [2.0]  # counted against the slot at 110 it landed in
    assert misses == 1  # the slot at 100


def test_misses_count_as_infinite_lag_in_the_percentiles():
    lags = [0.01] * 98

    assert percentile(lags, 0, 0.99) == 0.01
    assert math.isinf(percentile(lags, 2, 0.99))
    assert percentile(lags, 2, 0.5) == 0.01
