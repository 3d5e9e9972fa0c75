import asyncio
from typing import Any

from buttress.monitoring.probes import DnsSpec, ProbeResult, probe_dns
from buttress.monitoring.tests.servers import Zone, dns_server, stub_network

ZONE: Zone = {
    ("www.example.test", "A"): ["192.0.2.1", "192.0.2.2"],
    ("www.example.test", "AAAA"): ["2001:db8::1"],
    ("example.test", "MX"): ["10 mail.example.test.", "20 backup.example.test."],
    ("example.test", "TXT"): ['"v=spf1 -all"'],
    ("example.test", "CAA"): ['0 issue "letsencrypt.org"'],
    ("_sip._tcp.example.test", "SRV"): ["10 5 5060 sip.example.test."],
    ("1.2.0.192.in-addr.arpa", "PTR"): ["www.example.test."],
}


async def _ask(name: str, record_type: str = "A", **options: Any) -> ProbeResult:
    async with dns_server(ZONE, servfail={"broken.example.test"}) as port:
        spec = DnsSpec(
            name,
            record_type,
            nameserver="127.0.0.1",
            port=port,
            allow_private=True,
            **options,
        )
        return await probe_dns(spec)


def test_name_with_records_is_up_and_lists_them():
    result = asyncio.run(_ask("www.example.test"))

    assert result.ok
    assert sorted(result.detail["answers"]) == ["192.0.2.1", "192.0.2.2"]
    assert result.detail["ttl"] == 300


def test_expected_subset_is_up():
    assert asyncio.run(_ask("www.example.test", expected=("192.0.2.2",))).ok


def test_exact_match_fails_on_an_extra_answer():
    result = asyncio.run(_ask("www.example.test", expected=("192.0.2.2",), match="exact"))

    assert result.status == "down"
    assert result.message == "unexpected A answers: 192.0.2.1"


def test_missing_expected_answer_is_down():
    result = asyncio.run(_ask("www.example.test", expected=("192.0.2.9",)))

    assert result.message == "expected A 192.0.2.9 not in answers"


def test_mx_compares_records_not_spelling():
    result = asyncio.run(
        _ask(
            "example.test",
            "MX",
            expected=("10 MAIL.example.test", "20 backup.example.test."),
            match="exact",
        )
    )

    assert result.ok, result.message


def test_txt_expected_without_quotes_is_one_string():
    assert asyncio.run(_ask("example.test", "TXT", expected=("v=spf1 -all",))).ok


def test_other_record_types_are_compared():
    assert asyncio.run(_ask("www.example.test", "AAAA", expected=("2001:db8:0::1",))).ok
    assert asyncio.run(_ask("example.test", "CAA", expected=('0 issue "letsencrypt.org"',))).ok
    assert asyncio.run(
        _ask("_sip._tcp.example.test", "SRV", expected=("10 5 5060 sip.example.test",))
    ).ok


def test_ptr_takes_the_address_itself():
    assert asyncio.run(_ask("192.0.2.1", "PTR", expected=("www.example.test",))).ok


def test_name_without_records_of_the_type_is_down():
    result = asyncio.run(_ask("example.test", "A"))

    assert result.message == "no A records for example.test."


def test_unknown_name_is_nxdomain():
    result = asyncio.run(_ask("nope.example.test"))

    assert result.message == "nope.example.test. does not exist (NXDOMAIN)"


def test_servfail_is_down_with_the_server_answer():
    result = asyncio.run(_ask("broken.example.test"))

    assert result.status == "down"
    assert result.message.startswith("no nameserver answered")
    assert "SERVFAIL" in result.message


def test_silent_resolver_times_out():
    async def scenario() -> ProbeResult:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        try:
            port = transport.get_extra_info("sockname")[1]
            spec = DnsSpec(
                "www.example.test",
                nameserver="127.0.0.1",
                port=port,
                timeout=0.5,
                allow_private=True,
            )
            return await probe_dns(spec)
        finally:
            transport.close()

    assert asyncio.run(scenario()).message == "timed out after 0.5 s"


def test_private_resolver_is_refused_by_default():
    result = asyncio.run(probe_dns(DnsSpec("www.example.test", nameserver="127.0.0.1")))

    assert result.message.startswith("refused: 127.0.0.1 is a private address")


def test_public_resolver_passes_the_policy():
    async def scenario() -> ProbeResult:
        async with dns_server(ZONE) as port:
            spec = DnsSpec("www.example.test", nameserver="127.0.0.1", port=port)
            return await probe_dns(spec, network=stub_network({}, public={"127.0.0.1"}))

    assert asyncio.run(scenario()).ok
