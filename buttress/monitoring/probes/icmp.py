"""ICMP echo check: packet loss and round-trip time.

Raw ICMP sockets need root or CAP_NET_RAW; Linux also offers unprivileged "ping" sockets to
the groups in net.ipv4.ping_group_range. The probe uses raw sockets when it runs as root and
ping sockets otherwise, unless ``privileged`` says which. A runner that may open neither
answers ``unknown``: it has learnt nothing about the target.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import icmplib

from buttress.monitoring.probes.network import SYSTEM, Network, ResolutionFailed, TargetRefused
from buttress.monitoring.probes.result import (
    ProbeResult,
    Stopwatch,
    bounded,
    down,
    judge,
    unknown,
)
from buttress.monitoring.probes.validate import (
    check_host,
    check_int,
    check_number,
    check_timeout,
    fail,
)


@dataclass(frozen=True)
class IcmpSpec:
    host: str
    count: int = 3
    interval: float = 0.2  # seconds between echo requests
    max_loss_percent: float = 50.0  # more loss than this is down; 100 % loss always is
    max_rtt_ms: float | None = None  # the average round trip above this is down
    privileged: bool | None = None  # None: raw sockets when running as root
    timeout: float = 5.0
    allow_private: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", check_host("host", self.host))
        check_int("count", self.count, low=1, high=20)
        check_number("interval", self.interval, low=0.01, high=5)
        check_number("max_loss_percent", self.max_loss_percent, low=0.0, high=100.0)
        if self.max_rtt_ms is not None:
            check_number("max_rtt_ms", self.max_rtt_ms, low=0, high=60_000)
        timeout = check_timeout(self.timeout)
        if timeout <= (self.count - 1) * self.interval:
            raise fail(
                "timeout",
                f"must exceed count x interval ({(self.count - 1) * self.interval:g} s)",
            )
        object.__setattr__(self, "timeout", timeout)


async def probe_icmp(spec: IcmpSpec, *, network: Network = SYSTEM) -> ProbeResult:
    return await bounded(spec.timeout, _probe(spec, network), kind="icmp")


async def _probe(spec: IcmpSpec, network: Network) -> ProbeResult:
    try:
        addresses = await network.addresses(spec.host, allow_private=spec.allow_private)
    except (TargetRefused, ResolutionFailed) as exc:
        return down(str(exc))
    address = addresses[0]
    privileged = spec.privileged if spec.privileged is not None else os.geteuid() == 0
    # Leave the last reply its share of the deadline rather than the library's 2 s default.
    reply_wait = max(0.05, min(2.0, spec.timeout - (spec.count - 1) * spec.interval - 0.05))
    clock = Stopwatch()
    try:
        host = await icmplib.async_ping(
            address,
            count=spec.count,
            interval=spec.interval,
            timeout=reply_wait,
            privileged=privileged,
        )
    except icmplib.SocketPermissionError as exc:
        return unknown(f"cannot open an ICMP socket: {exc}")
    except icmplib.ICMPLibError as exc:
        return down(f"ping failed: {exc}", latency_ms=clock.ms())
    loss = round(float(host.packet_loss) * 100.0, 1)
    detail: dict[str, object] = {
        "address": address,
        "sent": host.packets_sent,
        "received": host.packets_received,
        "loss_percent": loss,
        "rtt_min_ms": host.min_rtt,
        "rtt_avg_ms": host.avg_rtt,
        "rtt_max_ms": host.max_rtt,
    }
    if host.packets_received == 0:
        return down(f"no reply from {address} ({host.packets_sent} sent)", detail=detail)
    avg_rtt = float(host.avg_rtt)
    problems: list[str] = []
    if loss > spec.max_loss_percent:
        problems.append(f"packet loss {loss:g}% (threshold {spec.max_loss_percent:g}%)")
    if spec.max_rtt_ms is not None and avg_rtt > spec.max_rtt_ms:
        problems.append(f"average round trip {avg_rtt:.1f} ms exceeds {spec.max_rtt_ms:g} ms")
    return judge(
        problems,
        success=f"{host.packets_received}/{host.packets_sent} replies, {avg_rtt:.1f} ms average",
        latency_ms=avg_rtt,
        detail=detail,
    )
