import asyncio
import os
from pathlib import Path

import pytest

from buttress.monitoring.probes import IcmpSpec, probe_icmp

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw ICMP sockets need root")


def _ping_sockets_allowed() -> bool:
    low, high = Path("/proc/sys/net/ipv4/ping_group_range").read_text().split()
    return any(int(low) <= gid <= int(high) for gid in [*os.getgroups(), os.getegid()])


@needs_root
def test_loopback_answers_ping():
    result = asyncio.run(
        probe_icmp(IcmpSpec("127.0.0.1", count=2, interval=0.05, allow_private=True))
    )

    assert result.ok, result.message
    assert result.detail["received"] == 2
    assert result.detail["loss_percent"] == 0
    assert result.latency_ms is not None


@needs_root
def test_round_trip_over_the_limit_is_down():
    spec = IcmpSpec("127.0.0.1", count=1, max_rtt_ms=0.000001, allow_private=True)

    result = asyncio.run(probe_icmp(spec))

    assert result.status == "down"
    assert result.message.startswith("average round trip ")
    assert result.message.endswith("exceeds 1e-06 ms")


@pytest.mark.skipif(_ping_sockets_allowed(), reason="this host allows unprivileged ping")
def test_missing_icmp_permission_is_unknown_not_down():
    spec = IcmpSpec("127.0.0.1", count=1, privileged=False, allow_private=True)

    result = asyncio.run(probe_icmp(spec))

    assert result.status == "unknown"
    assert result.message.startswith("cannot open an ICMP socket")


def test_loopback_ping_is_refused_by_default():
    result = asyncio.run(probe_icmp(IcmpSpec("127.0.0.1", count=1)))

    assert result.message.startswith("refused: 127.0.0.1 is a private address")
