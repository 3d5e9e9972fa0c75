import asyncio
import ipaddress

import pytest

from buttress.monitoring.probes import HttpSpec, ProbeResult, TcpSpec, is_public_address, run_probe
from buttress.monitoring.probes.network import (
    Network,
    ResolutionFailed,
    TargetRefused,
    system_resolve,
)
from buttress.monitoring.probes.result import bounded
from buttress.monitoring.tests.servers import stub_network


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address under test, not a bind
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_private_and_special_addresses_are_not_public(address):
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111"])
def test_global_unicast_addresses_are_public(address):
    assert is_public_address(ipaddress.ip_address(address))


def test_one_private_address_among_public_ones_refuses_the_name():
    network = stub_network({"mixed.example": ["1.1.1.1", "10.0.0.5"]}, public={"1.1.1.1"})

    with pytest.raises(TargetRefused) as caught:
        asyncio.run(network.addresses("mixed.example", allow_private=False))

    assert caught.value.address == "10.0.0.5"


def test_private_addresses_pass_when_allowed():
    network = stub_network({"mixed.example": ["1.1.1.1", "10.0.0.5"]}, public={"1.1.1.1"})

    found = asyncio.run(network.addresses("mixed.example", allow_private=True))

    assert found == ["1.1.1.1", "10.0.0.5"]


def test_resolution_failure_is_a_down_result():
    async def failing(host: str) -> list[str]:
        raise ResolutionFailed(host, "Name or service not known")

    result = asyncio.run(run_probe(TcpSpec("gone.example", 80), network=Network(resolve=failing)))

    assert result.status == "down"
    assert result.message == "cannot resolve gone.example: Name or service not known"


def test_system_resolver_reads_the_hosts_file():
    assert "127.0.0.1" in asyncio.run(system_resolve("localhost"))


def test_unexpected_probe_error_is_unknown_not_down():
    async def broken() -> ProbeResult:
        raise RuntimeError("boom")

    result = asyncio.run(bounded(1.0, broken(), kind="test"))

    assert result.status == "unknown"
    assert result.message == "probe error: RuntimeError: boom"


def test_run_probe_dispatches_on_the_spec_kind():
    refused = Network(resolve=stub_network({}, set()).resolve)

    result = asyncio.run(run_probe(HttpSpec("http://10.0.0.1/"), network=refused))

    assert result.message.startswith("refused: 10.0.0.1 is a private address")
