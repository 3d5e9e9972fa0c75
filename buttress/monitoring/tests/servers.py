"""Loopback servers and certificates the probe tests start for themselves."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from buttress.monitoring.probes.network import IPAddress, Network

# ---------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Issued:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(directory: Path) -> tuple[Issued, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test CA"))
        .issuer_name(_name("Test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, "ca", cert, key), cert, key


def make_leaf(
    directory: Path,
    label: str,
    *,
    valid_for: timedelta = timedelta(days=90),
    names: Sequence[str] = ("localhost", "127.0.0.1"),
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
) -> Issued:
    """A server certificate for ``names``, self-signed unless ``issuer`` signs it."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    issuer_name, signing_key = (issuer[0].subject, issuer[1]) if issuer else (_name(names[0]), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now - timedelta(days=30), now + valid_for - timedelta(days=1)))
        .not_valid_after(now + valid_for)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
            critical=False,
        ).add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    return _write(directory, label, builder.sign(signing_key, hashes.SHA256()), key)


def _write(
    directory: Path, label: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Issued:
    cert_file = directory / f"{label}.pem"
    key_file = directory / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(cert_file, key_file)


# ---------------------------------------------------------------- a network stub


def stub_network(names: dict[str, list[str]], public: set[str]) -> Network:
    """Names resolve from ``names``; only the addresses in ``public`` count as public."""

    async def resolve(host: str) -> list[str]:
        return names.get(host, [])

    def is_public(address: IPAddress) -> bool:
        return str(address) in public

    return Network(resolve=resolve, is_public=is_public)


# ---------------------------------------------------------------- plain TCP servers

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def tcp_server(
    handler: Handler, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """Serve ``handler`` on a random loopback port; yields the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # a probe that gives up mid-dialogue is what some tests are about
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(guarded, host, 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


# ---------------------------------------------------------------- HTTP


def http_app() -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="<h1>Welcome to the service</h1>")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status page")

    async def health(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "checks": {"db": {"latency": 12}}, "tags": ["a", "b"], "up": True}
        )

    async def chain(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        raise web.HTTPFound("/ok" if left == 0 else f"/chain/{left - 1}")

    async def to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    async def see_other(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/echo")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "headers": dict(request.headers),
                "body": await request.text(),
            }
        )

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (2 * 1024 * 1024) + b"needle")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/health", health)
    app.router.add_get("/chain/{n}", chain)
    app.router.add_get("/to", to)
    app.router.add_post("/see-other", see_other)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    return app


@asynccontextmanager
async def http_server(
    *, hosts: Sequence[str] = ("127.0.0.1",), tls: ssl.SSLContext | None = None
) -> AsyncIterator[list[int]]:
    """The test app on each loopback address in ``hosts``; yields their ports in order."""
    runner = web.AppRunner(http_app(), access_log=None)
    await runner.setup()
    ports: list[int] = []
    try:
        for host in hosts:
            site = web.TCPSite(runner, host, 0, ssl_context=tls)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.Server)
            ports.append(server.sockets[0].getsockname()[1])
        yield ports
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- DNS

Zone = dict[tuple[str, str], list[str]]


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone, servfail: set[str]) -> None:
        self.zone = zone
        self.servfail = servfail
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".")
        kind = dns.rdatatype.to_text(question.rdtype)
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif not any(owner == name for owner, _ in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif (name, kind) in self.zone:
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, 300, dns.rdataclass.IN, kind, self.zone[(name, kind)]
                )
            )
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@asynccontextmanager
async def dns_server(zone: Zone, *, servfail: set[str] | None = None) -> AsyncIterator[int]:
    """Answers ``zone`` over UDP on 127.0.0.1; NXDOMAIN for names it does not hold."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _DnsProtocol(zone, servfail or set()), local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()
