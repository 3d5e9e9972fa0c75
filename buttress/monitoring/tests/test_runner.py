"""The runner in this process against loopback servers the tests start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from buttress.desk.models import Source, Status, TicketEvent, TicketType
from buttress.lib.timeutil import now
from buttress.maintenance import services as maintenance
from buttress.monitoring import services
from buttress.monitoring.models import (
    CheckResult,
    Monitor,
    MonitorIncident,
    MonitoringSettings,
    PrivateTargets,
    StateChange,
)
from buttress.monitoring.runner import Runner
from buttress.testing.factories import AssetFactory

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 60.0


@dataclass
class Target:
    """A loopback HTTP server whose /switch answers 200 or 500 as the test says."""

    healthy: bool = True
    port: int = 0
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str = "/switch") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@asynccontextmanager
async def serve(target: Target) -> AsyncIterator[Target]:
    async def switch(request: web.Request) -> web.Response:
        target.hits["switch"] = target.hits.get("switch", 0) + 1
        return web.Response(status=200 if target.healthy else 500, text="switch")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response(text="never")

    app = web.Application()
    app.router.add_get("/switch", switch)
    app.router.add_get("/hang", hang)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    target.port = server.sockets[0].getsockname()[1]
    try:
        yield target
    finally:
        await runner.cleanup()


Step = tuple[Callable[[], bool], Callable[[], None] | None]


def drive(target: Target, steps: list[Step], **options: Any) -> Runner:
    """Run a runner until each step's condition holds in turn, running its action after it."""
    configure = options.pop("configure", lambda target: None)
    runner = Runner(lease=options.pop("lease", 8.0), flush=0.1, **options)

    async def scenario() -> None:
        async with serve(target):
            await runner._call(configure, target)
            stop = asyncio.Event()
            task = asyncio.create_task(runner.main(until=stop))
            loop = asyncio.get_running_loop()
            try:
                for condition, action in steps:
                    deadline = loop.time() + TIMEOUT
                    while not await runner._call(condition):
                        if task.done() or loop.time() > deadline:
                            raise AssertionError(f"never held: {condition.__doc__}")
                        await asyncio.sleep(0.1)
                    if action is not None:
                        await runner._call(action)
            finally:
                stop.set()
                await task

    asyncio.run(scenario())
    return runner


def http_monitor(org, name: str, *, interval: int = 1, **fields: Any) -> Monitor:
    """A monitor of the test server, checked every ``interval`` seconds.

    The services refuse intervals under 10 s; the tests set a shorter one directly so that
    they do not wait for the real cadence, which the runner treats no differently.
    """
    monitor = services.create_monitor(
        org,
        actor=None,
        name=name,
        kind="http",
        config={"url": "http://127.0.0.1:1/switch", "timeout": 2.0},
        **fields,
    )
    Monitor.objects.filter(pk=monitor.pk).update(interval=interval)
    return monitor


def point(monitor: Monitor, url: str, **config: Any) -> None:
    Monitor.objects.filter(pk=monitor.pk).update(
        config={"url": url, "timeout": 2.0, **config}, updated_at=now()
    )


def status_of(monitor: Monitor) -> str:
    return Monitor.objects.get(pk=monitor.pk).status


def test_runner_checks_a_monitor_and_writes_results_in_batches(org):
    monitor = http_monitor(org, "shop")
    target = Target()

    def three_results() -> bool:
        """three results"""
        return CheckResult.objects.filter(monitor=monitor).count() >= 3

    drive(target, [(three_results, None)], configure=lambda t: point(monitor, t.url()))

    monitor.refresh_from_db()
    assert monitor.status == "up"
    assert monitor.lease_owner == ""  # released on the way out
    results = list(CheckResult.objects.filter(monitor=monitor))
    assert {r.status for r in results} == {"up"}
    assert all(r.latency_ms is not None and r.organization_id == org.pk for r in results)
    assert monitor.recent_results.startswith("uuu")
    assert StateChange.objects.filter(monitor=monitor, from_status="unknown", to_status="up")


def test_a_hanging_target_does_not_delay_the_other_checks(org):
    hanging = http_monitor(org, "hangs")
    healthy = [http_monitor(org, f"fine {n}") for n in range(5)]
    target = Target()

    def configure(t: Target) -> None:
        point(hanging, t.url("/hang"))
        for monitor in healthy:
            point(monitor, t.url())

    def hanging_judged() -> bool:
        """the hanging check to time out"""
        return CheckResult.objects.filter(monitor=hanging).exists()

    drive(target, [(hanging_judged, None)], configure=configure, concurrency=20)

    first = CheckResult.objects.filter(monitor=hanging).order_by("at").first()
    assert first is not None
    assert first.status == "down"
    assert "timed out" in first.message
    # While the hanging check waited out its 2 s time-out, the others went on being checked.
    for monitor in healthy:
        assert CheckResult.objects.filter(monitor=monitor, at__gt=first.at).count() >= 1


def test_going_down_opens_an_incident_and_recovery_resolves_it(org):
    asset = AssetFactory.create(organization=org)
    monitor = http_monitor(org, "billing api", asset=asset)
    target = Target()

    def up() -> bool:
        """the monitor up"""
        return status_of(monitor) == "up"

    def incident() -> bool:
        """an incident"""
        return MonitorIncident.objects.filter(monitor=monitor).exists()

    def resolved() -> bool:
        """the incident resolved"""
        link = MonitorIncident.objects.select_related("ticket").filter(monitor=monitor).first()
        return link is not None and link.ticket.status == Status.RESOLVED

    def fail() -> None:
        target.healthy = False

    def heal() -> None:
        target.healthy = True

    drive(
        target,
        [(up, fail), (incident, heal), (resolved, None)],
        configure=lambda t: point(monitor, t.url()),
    )

    link = MonitorIncident.objects.select_related("ticket").get(monitor=monitor)
    ticket = link.ticket
    assert ticket.subject == "Monitor billing api is down"
    assert ticket.source == Source.MONITORING
    assert ticket.type == TicketType.INCIDENT
    assert list(ticket.assets.all()) == [asset]
    assert link.recovered_at is not None
    notes = TicketEvent.objects.filter(ticket=ticket, kind="note_added")
    assert notes.exists()
    changes = list(
        StateChange.objects.filter(monitor=monitor)
        .order_by("at", "id")
        .values_list("from_status", "to_status")
    )
    assert changes == [("unknown", "up"), ("up", "down"), ("down", "up")]
    down = StateChange.objects.get(monitor=monitor, to_status="down")
    assert down.reason.startswith("2 consecutive failures")
    # Down only after two failed checks: the first failure was re-checked at once.
    failures = CheckResult.objects.filter(monitor=monitor, status="down", at__lte=down.at)
    assert failures.count() == 2


def test_an_edited_monitor_is_checked_with_its_new_configuration(org):
    monitor = http_monitor(org, "moved site")
    target = Target()

    def down() -> bool:
        """the monitor down on its old address"""
        return status_of(monitor) == "down"

    def up() -> bool:
        """the monitor up on its new address"""
        return status_of(monitor) == "up"

    def move() -> None:
        point(monitor, target.url())  # a new config and updated_at, as an edit writes them

    # Port 1 on loopback refuses connections.
    drive(
        target,
        [(down, move), (up, None)],
        configure=lambda t: point(monitor, "http://127.0.0.1:1/"),
    )

    assert target.hits["switch"] >= 1


def test_a_maintenance_window_suppresses_the_incident(org):
    monitor = http_monitor(org, "mail relay")
    maintenance.create_window(
        org,
        actor=None,
        name="relay upgrade",
        starts_at=now() - timedelta(minutes=5),
        duration=timedelta(hours=2),
        monitors=[monitor],
    )
    target = Target(healthy=False)

    def down() -> bool:
        """the monitor down"""
        return status_of(monitor) == "down"

    def checked_again() -> bool:
        """another failing check after going down"""
        change = StateChange.objects.filter(monitor=monitor, to_status="down").first()
        return (
            change is not None
            and CheckResult.objects.filter(monitor=monitor, at__gt=change.at).exists()
        )

    drive(
        target, [(down, None), (checked_again, None)], configure=lambda t: point(monitor, t.url())
    )

    assert not MonitorIncident.objects.filter(monitor=monitor).exists()


def test_a_child_of_a_down_parent_is_unreachable_and_opens_nothing(org):
    parent = http_monitor(org, "uplink")
    child = http_monitor(org, "office printer", depends_on=parent)
    target = Target(healthy=False)

    def both_judged() -> bool:
        """parent down, child unreachable"""
        return status_of(parent) == "down" and status_of(child) == "unreachable"

    def configure(t: Target) -> None:
        point(parent, t.url())
        point(child, t.url())

    drive(target, [(both_judged, None)], configure=configure)

    assert MonitorIncident.objects.filter(monitor=parent).count() == 1
    assert not MonitorIncident.objects.filter(monitor=child).exists()
    change = StateChange.objects.filter(monitor=child, to_status="unreachable").get()
    assert change.reason == "monitor uplink is down"


def test_an_organisation_refusing_private_targets_gets_refused_checks(org):
    MonitoringSettings.objects.create(organization=org, private_targets=PrivateTargets.REFUSED)
    monitor = http_monitor(org, "intranet")
    target = Target()

    def judged() -> bool:
        """a result"""
        return CheckResult.objects.filter(monitor=monitor).exists()

    drive(target, [(judged, None)], configure=lambda t: point(monitor, t.url()))

    result = CheckResult.objects.filter(monitor=monitor).first()
    assert result is not None
    assert result.status == "down"
    assert "private" in result.message
    assert target.hits.get("switch", 0) == 0


def test_a_redirect_to_a_private_address_is_refused_too(org):
    MonitoringSettings.objects.create(organization=org, private_targets=PrivateTargets.STAFF)
    # Configured by a customer user: under the default policy its checks stay public.
    monitor = http_monitor(org, "customer site")
    Monitor.objects.filter(pk=monitor.pk).update(configured_by_staff=False)
    target = Target()

    def judged() -> bool:
        """a result"""
        return CheckResult.objects.filter(monitor=monitor).exists()

    drive(target, [(judged, None)], configure=lambda t: point(monitor, t.url()))

    result = CheckResult.objects.filter(monitor=monitor).first()
    assert result is not None
    assert result.status == "down"
    assert "private" in result.message


def test_an_unreachable_reference_target_makes_failures_unknown(org):
    monitor = http_monitor(org, "behind a dead uplink")
    target = Target(healthy=False)

    def judged() -> bool:
        """three results"""
        return CheckResult.objects.filter(monitor=monitor).count() >= 3

    # Port 1 on loopback refuses connections: the runner's reference check fails.
    drive(
        target,
        [(judged, None)],
        configure=lambda t: point(monitor, t.url()),
        reference="127.0.0.1:1",
    )

    assert set(CheckResult.objects.filter(monitor=monitor).values_list("status", flat=True)) == {
        "unknown"
    }
    assert status_of(monitor) == "unknown"
    assert not StateChange.objects.filter(monitor=monitor).exists()
