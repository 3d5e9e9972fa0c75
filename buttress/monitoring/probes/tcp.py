"""TCP port check: the port accepts a connection, optionally answers a request as expected."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from buttress.monitoring.probes.network import (
    SYSTEM,
    Network,
    ResolutionFailed,
    TargetRefused,
    close_quietly,
    describe_os_error,
    open_stream,
)
from buttress.monitoring.probes.result import ProbeResult, Stopwatch, bounded, down, up
from buttress.monitoring.probes.validate import (
    check_host,
    check_int,
    check_port,
    check_regex,
    check_timeout,
)


@dataclass(frozen=True)
class TcpSpec:
    host: str
    port: int
    send: str = ""  # written once connected, as UTF-8
    expect: str | None = None  # a regular expression searched in what the server sends
    max_read_bytes: int = 4096
    timeout: float = 10.0
    allow_private: bool = False
    pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", check_host("host", self.host))
        check_port("port", self.port)
        if not isinstance(self.send, str):
            raise ValueError("send: must be text")
        if self.expect is not None:
            object.__setattr__(self, "pattern", check_regex("expect", self.expect))
        check_int("max_read_bytes", self.max_read_bytes, low=1, high=1024 * 1024)
        object.__setattr__(self, "timeout", check_timeout(self.timeout))


async def probe_tcp(spec: TcpSpec, *, network: Network = SYSTEM) -> ProbeResult:
    return await bounded(spec.timeout, _probe(spec, network), kind="tcp")


async def _probe(spec: TcpSpec, network: Network) -> ProbeResult:
    clock = Stopwatch()
    try:
        reader, writer, address = await open_stream(
            network, spec.host, spec.port, allow_private=spec.allow_private
        )
    except (TargetRefused, ResolutionFailed) as exc:
        return down(str(exc))
    except OSError as exc:
        return down(describe_os_error(exc))
    connected = clock.ms()
    detail: dict[str, object] = {"address": address, "connect_ms": connected}
    try:
        if spec.send:
            writer.write(spec.send.encode())
            await writer.drain()
        if spec.pattern is None:
            return up(f"port {spec.port} open", latency_ms=connected, detail=detail)
        received, matched = await _read_until(reader, spec.pattern, spec.max_read_bytes)
    except OSError as exc:
        return down(describe_os_error(exc), latency_ms=connected, detail=detail)
    finally:
        await close_quietly(writer)
    latency = clock.ms()
    detail["received"] = received[:200]
    if matched:
        return up(f"port {spec.port} answered as expected", latency_ms=latency, detail=detail)
    return down(
        f"response did not match {spec.expect!r}: got {received[:80]!r}",
        latency_ms=latency,
        detail=detail,
    )


async def _read_until(
    reader: asyncio.StreamReader, pattern: re.Pattern[str], limit: int
) -> tuple[str, bool]:
    """Read until the pattern matches, the peer closes, or ``limit`` bytes have arrived."""
    data = b""
    while len(data) < limit:
        chunk = await reader.read(limit - len(data))
        if not chunk:
            break
        data += chunk
        if pattern.search(data.decode(errors="replace")):
            return data.decode(errors="replace"), True
    return data.decode(errors="replace"), False
