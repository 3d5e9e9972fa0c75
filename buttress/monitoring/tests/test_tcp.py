import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from buttress.monitoring.probes import HttpSpec, ProbeResult, TcpSpec, probe_http, probe_tcp
from buttress.monitoring.tests.servers import hang, tcp_server


async def _banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
    await writer.drain()
    request = await reader.readline()
    if request:
        writer.write(b"echo: " + request)
        await writer.drain()


async def _check(**options: Any) -> ProbeResult:
    async with tcp_server(_banner) as port:
        return await probe_tcp(TcpSpec("127.0.0.1", port, allow_private=True, **options))


def test_open_port_is_up():
    result = asyncio.run(_check())

    assert result.ok
    assert result.message.startswith("port ")
    assert result.detail["address"] == "127.0.0.1"


def test_banner_matching_the_pattern_is_up():
    result = asyncio.run(_check(expect=r"^SSH-2\.0-"))

    assert result.ok
    assert result.detail["received"].startswith("SSH-2.0")


def test_sent_request_and_expected_answer():
    result = asyncio.run(_check(send="ping\n", expect=r"echo: ping"))

    assert result.ok


def test_banner_not_matching_is_down_and_quotes_what_came():
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 wrong service\r\n")
        await writer.drain()

    async def scenario() -> ProbeResult:
        async with tcp_server(short) as port:
            return await probe_tcp(TcpSpec("127.0.0.1", port, expect="^SSH-", allow_private=True))

    result = asyncio.run(scenario())

    assert result.status == "down"
    assert result.message == "response did not match '^SSH-': got '220 wrong service\\r\\n'"


def test_closed_port_is_connection_refused():
    async def scenario() -> ProbeResult:
        async with tcp_server(hang) as port:
            pass
        return await probe_tcp(TcpSpec("127.0.0.1", port, allow_private=True))

    assert asyncio.run(scenario()).message == "connection refused"


def test_silent_server_times_out_when_a_banner_is_expected():
    async def scenario() -> tuple[ProbeResult, float]:
        async with tcp_server(hang) as port:
            started = time.perf_counter()
            result = await probe_tcp(
                TcpSpec("127.0.0.1", port, expect="ready", timeout=0.5, allow_private=True)
            )
            return result, time.perf_counter() - started

    result, elapsed = asyncio.run(scenario())

    assert result.message == "timed out after 0.5 s"
    assert 0.45 < elapsed < 1.0


def test_hanging_target_does_not_delay_another_probe():
    async def scenario() -> tuple[float, float, ProbeResult]:
        async with tcp_server(hang) as hanging, tcp_server(_banner) as healthy:
            started = time.perf_counter()

            async def finish(work: Awaitable[ProbeResult]) -> float:
                await work
                return time.perf_counter() - started

            slow_http = HttpSpec(f"http://127.0.0.1:{hanging}/", timeout=0.5, allow_private=True)
            fast = TcpSpec("127.0.0.1", healthy, expect="SSH", allow_private=True)
            fast_task = asyncio.create_task(probe_tcp(fast))
            slow_done, fast_done = await asyncio.gather(
                finish(probe_http(slow_http)), finish(fast_task)
            )
            return slow_done, fast_done, fast_task.result()

    slow_done, fast_done, fast_result = asyncio.run(scenario())

    assert fast_result.ok
    assert fast_done < 0.25
    assert slow_done >= 0.5


def test_loopback_is_refused_by_default():
    result = asyncio.run(probe_tcp(TcpSpec("127.0.0.1", 22)))

    assert result.message.startswith("refused: 127.0.0.1 is a private address")
