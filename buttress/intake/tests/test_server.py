"""The intake server over real sockets: HTTP/1.1 parsing, keep-alive, limits, group commit and
durability, with its committers on their own threads as deployed."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError

from buttress.intake import server as intake_server
from buttress.intake.server import Intake, serve
from buttress.monitoring import services
from buttress.monitoring.models import Monitor, Ping

pytestmark = pytest.mark.django_db(transaction=True)


class Running:
    def __init__(self, intake: Intake, port: int) -> None:
        self.intake = intake
        self.port = port

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def get(self, path: str) -> tuple[int, bytes]:
        conn = self.connect()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def raw(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(data)
            return sock.recv(65536)


def _run(window: float = 0.002) -> Iterator[Running]:
    intake = Intake(window=window)
    intake.start()
    loop = asyncio.new_event_loop()
    ready = asyncio.Event()
    port_holder: list[int] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port_holder.append(probe.getsockname()[1])
    task: list[asyncio.Task[None]] = []

    def main() -> None:
        asyncio.set_event_loop(loop)

        async def go() -> None:
            task.append(asyncio.current_task())  # type: ignore[arg-type]
            await serve("127.0.0.1", port_holder[0], intake, ready=ready)

        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(go())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    for _ in range(200):
        if ready.is_set():
            break
        threading.Event().wait(0.02)
    yield Running(intake, port_holder[0])
    loop.call_soon_threadsafe(task[0].cancel)
    thread.join(10)
    intake.stop()


@pytest.fixture
def running() -> Iterator[Running]:
    yield from _run()


@pytest.fixture
def monitor(org) -> Monitor:
    return services.create_monitor(org, actor=None, name="backup", kind="heartbeat", slug="backup")


def test_keep_alive_serves_several_pings_on_one_connection(running, monitor):
    conn = running.connect()
    try:
        statuses = []
        for _ in range(3):
            conn.request("GET", f"/ping/{monitor.uuid}")
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            sock = conn.sock
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        assert conn.sock is sock  # never reconnected
    finally:
        conn.close()

    assert statuses == [200, 200, 200]
    assert Ping.objects.filter(monitor=monitor).count() == 3


def test_each_answered_ping_is_already_committed(running, monitor):
    conn = running.connect()
    try:
        for n in range(1, 21):
            conn.request("GET", f"/ping/{monitor.uuid}/log")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            # Read on the test's own connection: the intake's transaction has committed.
            assert Ping.objects.filter(monitor=monitor).count() == n
    finally:
        conn.close()


def test_concurrent_pings_are_grouped_into_few_transactions_and_all_counted(org):
    monitors = [
        services.create_monitor(org, actor=None, name=f"job {n}", kind="heartbeat", slug=f"j{n}")
        for n in range(5)
    ]
    paths = [f"/ping/{m.uuid}" for m in monitors] * 8
    started = _run(window=0.05)
    running = next(started)

    def ping(path: str, running: Running = running) -> int:
        return running.get(path)[0]

    try:
        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            statuses = list(pool.map(ping, paths))
        batches = running.intake.pings.batches
    finally:
        next(started, None)

    assert statuses == [200] * len(paths)
    assert batches < len(paths)
    for monitor in monitors:
        monitor.refresh_from_db()
        assert monitor.n_pings == 8
        assert sorted(monitor.pings.values_list("n", flat=True)) == list(range(1, 9))
        assert monitor.status == "up"


def test_a_failing_database_is_answered_503_with_retry_after(running, monitor, monkeypatch):
    def broken(items: object) -> list[int]:
        raise OperationalError("the database went away")

    monkeypatch.setattr(running.intake.pings, "_write", broken)

    conn = running.connect()
    try:
        conn.request("GET", f"/ping/{monitor.uuid}")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()

    assert response.status == 503
    assert response.getheader("Retry-After") == "1"


def test_a_ping_body_over_the_limit_is_413_and_the_connection_closes(running, monitor, monkeypatch):
    monkeypatch.setattr(running.intake, "limits", intake_server.Limits(ping_body=100))
    conn = running.connect()
    try:
        conn.request("POST", f"/ping/{monitor.uuid}", body=b"x" * 101)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()

    assert response.status == 413
    assert response.getheader("Connection", "").lower() == "close"
    assert Ping.objects.count() == 0


def test_a_ping_body_within_the_limit_is_kept_to_the_body_limit(running, monitor, settings):
    settings.MONITORING_PING_BODY_LIMIT = 4
    conn = running.connect()
    try:
        conn.request("POST", f"/ping/{monitor.uuid}", body=b"abcdefgh")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()

    ping = Ping.objects.get()
    assert response.status == 200
    assert (ping.body, ping.body_size) == ("abcd", 8)


def test_a_malformed_request_line_is_400(running):
    assert running.raw(b"NOT AN HTTP REQUEST\r\n\r\n").split(b" ", 2)[1] == b"400"


def test_an_overlong_header_is_refused_with_a_4xx(running):
    answer = running.raw(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n"
    )

    assert answer.split(b" ", 2)[1] in {b"400", b"431"}


def test_an_unknown_path_is_404_and_a_wrong_method_405(running, monitor):
    assert running.get("/admin/")[0] == 404
    conn = running.connect()
    try:
        conn.request("DELETE", f"/ping/{monitor.uuid}")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD, POST"
