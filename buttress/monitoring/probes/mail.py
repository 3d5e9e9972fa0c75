"""SMTP and IMAP checks: the greeting, the capability list, and an optional STARTTLS upgrade.

Written on asyncio streams rather than aiosmtplib or imapclient: the check needs the raw
greeting and the server's capability list, each step under the same deadline and address
policy as every other probe, and nothing past the point where a client library starts to be
useful (authentication, sending, mailboxes). The whole dialogue is three or four commands.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from buttress.monitoring.probes import certs
from buttress.monitoring.probes.network import (
    SYSTEM,
    Network,
    ResolutionFailed,
    TargetRefused,
    close_quietly,
    describe_os_error,
    open_stream,
)
from buttress.monitoring.probes.result import ProbeResult, Stopwatch, bounded, down, judge
from buttress.monitoring.probes.validate import (
    check_host,
    check_int,
    check_port,
    check_timeout,
    fail,
)

TlsMode = Literal["none", "starttls", "implicit"]
_MAX_LINES = 100


class DialogueError(Exception):
    """The server answered something a healthy server would not; the message says what."""


@dataclass(frozen=True)
class SmtpSpec:
    host: str
    port: int = 25
    tls: TlsMode = "none"  # "implicit" for port 465
    verify_tls: bool = True  # chain and host name of the certificate
    min_days_valid: int | None = None
    helo_name: str = "localhost"
    timeout: float = 10.0
    allow_private: bool = False

    def __post_init__(self) -> None:
        _validate(self)
        object.__setattr__(self, "helo_name", check_host("helo_name", self.helo_name))


@dataclass(frozen=True)
class ImapSpec:
    host: str
    port: int = 143
    tls: TlsMode = "none"  # "implicit" for port 993
    verify_tls: bool = True
    min_days_valid: int | None = None
    timeout: float = 10.0
    allow_private: bool = False

    def __post_init__(self) -> None:
        _validate(self)


def _validate(spec: SmtpSpec | ImapSpec) -> None:
    object.__setattr__(spec, "host", check_host("host", spec.host))
    check_port("port", spec.port)
    if spec.tls not in ("none", "starttls", "implicit"):
        raise fail("tls", f"{spec.tls!r} is not none, starttls or implicit")
    if spec.min_days_valid is not None:
        if spec.tls == "none":
            raise fail("min_days_valid", "needs tls starttls or implicit")
        check_int("min_days_valid", spec.min_days_valid, low=0, high=3650)
    object.__setattr__(spec, "timeout", check_timeout(spec.timeout))


class _Session:
    """One connection's dialogue, upgraded to TLS in place when asked."""

    def __init__(
        self, spec: SmtpSpec | ImapSpec, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.spec = spec
        self.reader = reader
        self.writer = writer
        self.detail: dict[str, Any] = {}
        self.problems: list[str] = []

    async def line(self) -> str:
        try:
            raw = await self.reader.readline()
        except (asyncio.LimitOverrunError, ValueError) as exc:
            raise DialogueError("server sent an overlong line") from exc
        if not raw:
            raise DialogueError("server closed the connection")
        return raw.decode(errors="replace").rstrip("\r\n")

    async def send(self, command: str) -> None:
        self.writer.write(command.encode() + b"\r\n")
        await self.writer.drain()

    async def start_tls(self) -> None:
        try:
            await self.writer.start_tls(_context(self.spec), server_hostname=self.spec.host)
        except ssl.SSLCertVerificationError as exc:
            raise DialogueError(f"certificate not trusted: {exc.verify_message}") from exc
        self.inspect_certificate()

    def inspect_certificate(self) -> None:
        tls: ssl.SSLObject | None = self.writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        if tls is None or der is None:
            raise DialogueError("TLS upgrade gave no certificate")
        info = certs.read_certificate(der)
        self.detail.update(info.as_detail(), tls_version=tls.version())
        self.problems.extend(
            certs.certificate_problems(
                info,
                host=self.spec.host,
                check_hostname=self.spec.verify_tls,
                min_days=self.spec.min_days_valid,
                chain_error=None,
            )
        )


def _context(spec: SmtpSpec | ImapSpec) -> ssl.SSLContext:
    return certs.client_context(verify=spec.verify_tls)


async def probe_smtp(spec: SmtpSpec, *, network: Network = SYSTEM) -> ProbeResult:
    return await bounded(spec.timeout, _run(spec, network, _smtp_dialogue), kind="smtp")


async def probe_imap(spec: ImapSpec, *, network: Network = SYSTEM) -> ProbeResult:
    return await bounded(spec.timeout, _run(spec, network, _imap_dialogue), kind="imap")


async def _run(
    spec: SmtpSpec | ImapSpec,
    network: Network,
    dialogue: Callable[[_Session], Awaitable[str]],
) -> ProbeResult:
    clock = Stopwatch()
    try:
        reader, writer, address = await open_stream(
            network,
            spec.host,
            spec.port,
            allow_private=spec.allow_private,
            tls=_context(spec) if spec.tls == "implicit" else None,
        )
    except (TargetRefused, ResolutionFailed) as exc:
        return down(str(exc))
    except ssl.SSLCertVerificationError as exc:
        return down(f"certificate not trusted: {exc.verify_message}")
    except ssl.SSLError as exc:
        return down(certs.describe_tls_error(exc))
    except OSError as exc:
        return down(describe_os_error(exc))
    session = _Session(spec, reader, writer)
    session.detail["address"] = address
    try:
        if spec.tls == "implicit":
            session.inspect_certificate()
        success = await dialogue(session)
    except DialogueError as exc:
        return down(str(exc), latency_ms=clock.ms(), detail=session.detail)
    except ssl.SSLError as exc:
        return down(certs.describe_tls_error(exc), latency_ms=clock.ms(), detail=session.detail)
    except OSError as exc:
        return down(describe_os_error(exc), latency_ms=clock.ms(), detail=session.detail)
    finally:
        await close_quietly(writer)
    return judge(session.problems, success=success, latency_ms=clock.ms(), detail=session.detail)


async def _smtp_reply(session: _Session) -> tuple[int, list[str]]:
    """One reply, all its continuation lines ("250-...") gathered; code and texts."""
    texts: list[str] = []
    for _ in range(_MAX_LINES):
        line = await session.line()
        if len(line) < 3 or not line[:3].isdigit():
            raise DialogueError(f"not an SMTP reply: {line[:80]!r}")
        texts.append(line[4:])
        if line[3:4] != "-":
            return int(line[:3]), texts
    raise DialogueError("SMTP reply has too many lines")


async def _smtp_dialogue(session: _Session) -> str:
    spec = session.spec
    assert isinstance(spec, SmtpSpec)
    code, texts = await _smtp_reply(session)
    session.detail["greeting"] = texts[0][:200]
    if code != 220:
        raise DialogueError(f"expected greeting 220, got {code} {texts[0][:80]}")
    extensions = await _ehlo(session, spec.helo_name)
    if spec.tls == "starttls":
        if "STARTTLS" not in extensions:
            raise DialogueError("server does not offer STARTTLS")
        await session.send("STARTTLS")
        code, texts = await _smtp_reply(session)
        if code != 220:
            raise DialogueError(f"STARTTLS refused: {code} {texts[0][:80]}")
        await session.start_tls()
        await _ehlo(session, spec.helo_name)
    await session.send("QUIT")
    return f"SMTP server ready{' (TLS)' if spec.tls != 'none' else ''}"


async def _ehlo(session: _Session, helo_name: str) -> set[str]:
    await session.send(f"EHLO {helo_name}")
    code, texts = await _smtp_reply(session)
    if code != 250:
        raise DialogueError(f"EHLO refused: {code} {texts[0][:80]}")
    extensions = {text.split(" ", 1)[0].upper() for text in texts[1:] if text}
    session.detail["extensions"] = sorted(extensions)
    return extensions


async def _imap_tagged(session: _Session, tag: str, command: str) -> list[str]:
    """Send a command; the untagged lines before its OK. A NO or BAD answer is an error."""
    await session.send(f"{tag} {command}")
    untagged: list[str] = []
    for _ in range(_MAX_LINES):
        line = await session.line()
        if line.startswith(f"{tag} "):
            status = line[len(tag) + 1 :].split(" ", 1)[0].upper()
            if status != "OK":
                raise DialogueError(f"{command} refused: {line[len(tag) + 1 :][:80]}")
            return untagged
        untagged.append(line)
    raise DialogueError(f"{command} answer has too many lines")


async def _imap_capabilities(session: _Session, tag: str) -> set[str]:
    for line in await _imap_tagged(session, tag, "CAPABILITY"):
        if line.upper().startswith("* CAPABILITY "):
            capabilities = {word.upper() for word in line.split()[2:]}
            session.detail["capabilities"] = sorted(capabilities)
            return capabilities
    raise DialogueError("CAPABILITY answer lists no capabilities")


async def _imap_dialogue(session: _Session) -> str:
    greeting = await session.line()
    session.detail["greeting"] = greeting[:200]
    if not greeting.upper().startswith(("* OK", "* PREAUTH")):
        raise DialogueError(f"expected greeting '* OK', got {greeting[:80]!r}")
    capabilities = await _imap_capabilities(session, "a1")
    if session.spec.tls == "starttls":
        if "STARTTLS" not in capabilities:
            raise DialogueError("server does not offer STARTTLS")
        await _imap_tagged(session, "a2", "STARTTLS")
        await session.start_tls()
        await _imap_capabilities(session, "a3")
    await session.send("a4 LOGOUT")
    return f"IMAP server ready{' (TLS)' if session.spec.tls != 'none' else ''}"
