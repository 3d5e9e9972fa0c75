import asyncio
from typing import Any

from buttress.monitoring.probes import ProbeResult, TlsSpec, probe_tls
from buttress.monitoring.tests.servers import Issued, tcp_server


async def _serve_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)  # hold the connection until the probe leaves


async def _check(issued: Issued, **options: Any) -> ProbeResult:
    async with tcp_server(_serve_tls, tls=issued.server_context()) as port:
        spec = TlsSpec("127.0.0.1", port=port, allow_private=True, **options)
        return await probe_tls(spec)


def test_certificate_from_a_trusted_ca_is_up_with_its_details(pki):
    result = asyncio.run(
        _check(pki.trusted, server_name="localhost", ca_file=str(pki.ca.cert_file))
    )

    assert result.ok, result.message
    assert result.detail["issuer"] == "CN=Test CA"
    assert result.detail["subject"] == "CN=localhost"
    assert result.detail["chain_verified"] is True
    assert 88 <= result.detail["days_left"] <= 90
    assert result.detail["not_after"]


def test_certificate_expiring_within_the_threshold_is_down(pki):
    result = asyncio.run(_check(pki.expiring, ca_file=str(pki.ca.cert_file), min_days_valid=14))

    assert result.status == "down"
    assert result.message == "certificate expires in 3 days (threshold 14)"


def test_expired_certificate_says_so_once(pki):
    result = asyncio.run(_check(pki.expired, ca_file=str(pki.ca.cert_file)))

    assert result.status == "down"
    assert result.message.startswith("certificate expired 2 days ago")
    assert "not trusted" not in result.message


def test_self_signed_certificate_is_not_trusted_against_system_cas(pki):
    result = asyncio.run(_check(pki.self_signed))

    assert result.status == "down"
    assert result.message == "certificate not trusted: self-signed certificate"
    assert result.detail["subject"] == "CN=localhost"


def test_self_signed_certificate_passes_when_the_chain_is_not_verified(pki):
    result = asyncio.run(_check(pki.self_signed, verify_chain=False))

    assert result.ok
    assert result.detail["chain_verified"] is False


def test_certificate_for_another_name_is_down(pki):
    result = asyncio.run(
        _check(pki.trusted, server_name="wrong.example", ca_file=str(pki.ca.cert_file))
    )

    assert result.status == "down"
    assert result.message == (
        "certificate is not valid for 'wrong.example' (valid for: localhost, 127.0.0.1)"
    )


def test_hostname_check_can_be_turned_off(pki):
    result = asyncio.run(
        _check(
            pki.trusted,
            server_name="wrong.example",
            ca_file=str(pki.ca.cert_file),
            check_hostname=False,
        )
    )

    assert result.ok


def test_plain_tcp_server_fails_the_handshake():
    async def silent_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)

    async def scenario() -> ProbeResult:
        async with tcp_server(silent_close) as port:
            return await probe_tls(TlsSpec("127.0.0.1", port=port, allow_private=True))

    result = asyncio.run(scenario())

    assert result.status == "down"
    assert result.message.startswith(("TLS handshake failed", "connection"))


def test_server_that_never_completes_the_handshake_times_out():
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    async def scenario() -> ProbeResult:
        async with tcp_server(mute) as port:
            return await probe_tls(TlsSpec("127.0.0.1", port=port, timeout=0.5, allow_private=True))

    assert asyncio.run(scenario()).message == "timed out after 0.5 s"


def test_loopback_is_refused_by_default(pki):
    result = asyncio.run(probe_tls(TlsSpec("127.0.0.1", port=1)))

    assert result.message.startswith("refused: 127.0.0.1 is a private address")


def test_unreadable_ca_file_content_is_unknown(tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")

    result = asyncio.run(
        probe_tls(TlsSpec("127.0.0.1", port=1, ca_file=str(bogus), allow_private=True))
    )

    assert result.status == "unknown"
    assert result.message.startswith(f"cannot load CA file {bogus}")
