import asyncio
import ssl
from typing import Any

from buttress.monitoring.probes import ImapSpec, ProbeResult, SmtpSpec, probe_imap, probe_smtp
from buttress.monitoring.tests.servers import Handler, tcp_server


def smtp_server(
    tls: ssl.SSLContext, *, greeting: bytes = b"220 mx.test ESMTP ready", starttls: bool = True
) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting + b"\r\n")
        while line := (await reader.readline()).strip().upper():
            if line.startswith(b"EHLO"):
                offer = b"250-STARTTLS\r\n" if starttls else b""
                writer.write(
                    b"250-mx.test hello\r\n250-PIPELINING\r\n" + offer + b"250 8BITMIME\r\n"
                )
            elif line == b"STARTTLS":
                writer.write(b"220 go ahead\r\n")
                await writer.drain()
                await writer.start_tls(tls)
            elif line == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"502 unknown command\r\n")
            await writer.drain()

    return handle


def imap_server(tls: ssl.SSLContext, *, greeting: bytes = b"* OK IMAP4rev1 ready") -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting + b"\r\n")
        while line := (await reader.readline()).strip():
            tag, command = line.split(b" ", 1)
            if command.upper() == b"CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n")
                writer.write(tag + b" OK CAPABILITY completed\r\n")
            elif command.upper() == b"STARTTLS":
                writer.write(tag + b" OK begin TLS\r\n")
                await writer.drain()
                await writer.start_tls(tls)
            elif command.upper() == b"LOGOUT":
                writer.write(b"* BYE\r\n" + tag + b" OK LOGOUT completed\r\n")
                await writer.drain()
                return
            else:
                writer.write(tag + b" BAD unknown\r\n")
            await writer.drain()

    return handle


async def _smtp(handler: Handler, **options: Any) -> ProbeResult:
    async with tcp_server(handler) as port:
        return await probe_smtp(SmtpSpec("127.0.0.1", port, allow_private=True, **options))


async def _imap(handler: Handler, **options: Any) -> ProbeResult:
    async with tcp_server(handler) as port:
        return await probe_imap(ImapSpec("127.0.0.1", port, allow_private=True, **options))


def test_smtp_greeting_and_ehlo_are_up(pki):
    result = asyncio.run(_smtp(smtp_server(pki.self_signed.server_context())))

    assert result.ok
    assert result.detail["greeting"] == "mx.test ESMTP ready"
    assert "STARTTLS" in result.detail["extensions"]


def test_smtp_rejecting_greeting_is_down(pki):
    handler = smtp_server(pki.self_signed.server_context(), greeting=b"554 no service here")

    result = asyncio.run(_smtp(handler))

    assert result.message == "expected greeting 220, got 554 no service here"


def test_smtp_starttls_with_checked_certificate_is_up(pki):
    handler = smtp_server(pki.self_signed.server_context())

    result = asyncio.run(_smtp(handler, tls="starttls", verify_tls=False, min_days_valid=14))

    assert result.ok, result.message
    assert result.detail["tls_version"].startswith("TLS")
    assert result.detail["subject"] == "CN=localhost"


def test_smtp_starttls_with_untrusted_certificate_is_down(pki):
    result = asyncio.run(_smtp(smtp_server(pki.self_signed.server_context()), tls="starttls"))

    assert result.status == "down"
    assert result.message == "certificate not trusted: self-signed certificate"


def test_smtp_certificate_close_to_expiry_is_down(pki):
    result = asyncio.run(
        _smtp(
            smtp_server(pki.expiring.server_context()),
            tls="starttls",
            verify_tls=False,
            min_days_valid=14,
        )
    )

    assert result.message == "certificate expires in 3 days (threshold 14)"


def test_smtp_without_starttls_offer_is_down(pki):
    handler = smtp_server(pki.self_signed.server_context(), starttls=False)

    result = asyncio.run(_smtp(handler, tls="starttls", verify_tls=False))

    assert result.message == "server does not offer STARTTLS"


def test_smtp_implicit_tls(pki):
    async def scenario() -> ProbeResult:
        handler = smtp_server(pki.self_signed.server_context(), starttls=False)
        async with tcp_server(handler, tls=pki.self_signed.server_context()) as port:
            spec = SmtpSpec("127.0.0.1", port, tls="implicit", verify_tls=False, allow_private=True)
            return await probe_smtp(spec)

    result = asyncio.run(scenario())

    assert result.ok, result.message
    assert result.detail["subject"] == "CN=localhost"


def test_smtp_server_that_closes_at_once_is_down():
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return None

    assert asyncio.run(_smtp(close)).message == "server closed the connection"


def test_imap_greeting_and_capabilities_are_up(pki):
    result = asyncio.run(_imap(imap_server(pki.self_signed.server_context())))

    assert result.ok
    assert "IMAP4REV1" in result.detail["capabilities"]


def test_imap_starttls_upgrade(pki):
    handler = imap_server(pki.self_signed.server_context())

    result = asyncio.run(_imap(handler, tls="starttls", verify_tls=False))

    assert result.ok, result.message
    assert result.detail["tls_version"].startswith("TLS")


def test_imap_bye_greeting_is_down(pki):
    handler = imap_server(pki.self_signed.server_context(), greeting=b"* BYE too busy")

    result = asyncio.run(_imap(handler))

    assert result.message == "expected greeting '* OK', got '* BYE too busy'"


def test_imap_silent_server_times_out():
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    assert asyncio.run(_imap(mute, timeout=0.5)).message == "timed out after 0.5 s"


def test_mail_targets_on_loopback_are_refused_by_default():
    assert asyncio.run(probe_smtp(SmtpSpec("127.0.0.1"))).message.startswith("refused:")
    assert asyncio.run(probe_imap(ImapSpec("localhost"))).message.startswith("refused:")
