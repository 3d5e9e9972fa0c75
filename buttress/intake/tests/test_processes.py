"""Several real ``buttress intake`` processes against one PostgreSQL database, pinging the same
monitors at once: the row locks keep every monitor's count and ping numbers exact."""

from __future__ import annotations

import functools
import http.client
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from django.db import connection

from buttress.cli import cli
from buttress.monitoring import services
from buttress.monitoring.models import Monitor
from buttress.testing.processes import database_url, wait_for

PINGS_PER_CLIENT = 60
CLIENTS = 6


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


@pytest.mark.postgres
@pytest.mark.slow
def test_two_intake_processes_pinging_the_same_monitors_lose_and_duplicate_nothing(
    transactional_db, processes, org
):
    monitors = [
        services.create_monitor(org, actor=None, name=f"job {n}", kind="heartbeat", slug=f"j{n}")
        for n in range(3)
    ]
    group = processes({"DATABASE_URL": database_url()})
    ports = [_free_port(), _free_port()]
    for port in ports:
        group.start("intake", "--bind", f"127.0.0.1:{port}")
    for port in ports:
        wait_for(functools.partial(_answers, port), timeout=60, what=f"intake on {port}")

    def client(number: int) -> list[int]:
        statuses = []
        conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in ports]
        try:
            for n in range(PINGS_PER_CLIENT):
                conn = conns[(number + n) % 2]
                target = monitors[(number + n) % len(monitors)]
                signal = "fail" if n % 7 == 0 else ""
                conn.request("GET", f"/ping/{target.uuid}/{signal}")
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            for conn in conns:
                conn.close()
        return statuses

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = [s for result in pool.map(client, range(CLIENTS)) for s in result]
    assert time.monotonic() - began < 120, group.output()

    assert statuses == [200] * (CLIENTS * PINGS_PER_CLIENT), group.output()
    total = 0
    for monitor in monitors:
        monitor.refresh_from_db()
        numbers = sorted(monitor.pings.values_list("n", flat=True))
        # The newest MONITORING_PINGS_KEPT are kept, numbered without a gap or a repeat.
        assert numbers == list(range(monitor.n_pings - len(numbers) + 1, monitor.n_pings + 1))
        total += monitor.n_pings
    assert total == CLIENTS * PINGS_PER_CLIENT
    assert Monitor.objects.filter(pk__in=[m.pk for m in monitors], status="up").count() + (
        Monitor.objects.filter(pk__in=[m.pk for m in monitors], status="down").count()
    ) == len(monitors)


@pytest.mark.postgres
@pytest.mark.slow
def test_processes_share_one_port_count_every_ping_and_stop_together(
    transactional_db, processes, org
):
    monitor = services.create_monitor(org, actor=None, name="job", kind="heartbeat", slug="job")
    group = processes({"DATABASE_URL": database_url()})
    port = _free_port()
    parent = group.start("intake", "--bind", f"127.0.0.1:{port}", "--processes", "2")
    wait_for(functools.partial(_answers, port), timeout=60, what=f"intake on {port}")

    def client(_: int) -> list[int]:
        statuses = []
        # A connection per ping: the kernel spreads new connections over both processes.
        for _ping in range(PINGS_PER_CLIENT):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", f"/ping/{monitor.uuid}")
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
            finally:
                conn.close()
        return statuses

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = [s for result in pool.map(client, range(CLIENTS)) for s in result]
    codes = group.stop_all()

    assert statuses == [200] * (CLIENTS * PINGS_PER_CLIENT), group.output()
    assert codes[parent.pid] == 0, group.output()
    output = group.output()
    # Both processes wrote pings, and each said so when it stopped.
    written = [line for line in output.splitlines() if line.startswith("intake pings: ")]
    assert len(written) == 2, output
    assert all("nothing written" not in line for line in written), output
    monitor.refresh_from_db()
    assert monitor.n_pings == CLIENTS * PINGS_PER_CLIENT
    numbers = sorted(monitor.pings.values_list("n", flat=True))
    assert numbers == list(range(monitor.n_pings - len(numbers) + 1, monitor.n_pings + 1))


@pytest.mark.django_db
def test_several_processes_on_sqlite_are_refused_with_one_clear_error():
    if connection.vendor != "sqlite":
        pytest.skip("the refusal is SQLite's")

    result = CliRunner().invoke(
        cli, ["intake", "--bind", f"127.0.0.1:{_free_port()}", "--processes", "2"]
    )

    assert result.exit_code != 0
    assert result.stderr.strip().splitlines() == [
        "Error: --processes above 1 needs PostgreSQL: SQLite takes one writer at a time"
    ]
