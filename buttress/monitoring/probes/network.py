"""Name resolution and the private-address policy every probe connects through.

A probe resolves its target itself, checks every address against the policy, and then
connects to one of those checked addresses. Resolving once and connecting to what was checked
closes the DNS-rebinding gap a check-then-connect-by-name design leaves open (a name that
answers a public address to the check and a private one to the connection).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

STREAM_LIMIT = 64 * 1024
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The target is, or resolves to, an address the policy forbids."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.address = address
        if host == address:
            text = f"refused: {address} is a private address (private targets are not allowed)"
        else:
            text = (
                f"refused: {host} resolves to private address {address} "
                "(private targets are not allowed)"
            )
        super().__init__(text)


class ResolutionFailed(Exception):
    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        super().__init__(f"cannot resolve {host}: {reason}")


def is_public_address(address: IPAddress) -> bool:
    """True for globally routable unicast addresses only.

    ``is_global`` already excludes private, loopback, link-local, shared (CGNAT), documentation
    and reserved ranges; an IPv4-mapped IPv6 address is judged by the IPv4 address inside it so
    ``::ffff:127.0.0.1`` cannot slip through.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@functools.lru_cache(maxsize=4096)
def parse_ip(text: str) -> IPAddress | None:
    # Cached: a runner parses the same few thousand targets' addresses on every check, and
    # ipaddress's parser costs as much as a tenth of a plain HTTP check.
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


async def system_resolve(host: str) -> list[str]:
    """Addresses from the operating system's resolver (hosts file, then DNS)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolutionFailed(host, exc.strerror or str(exc)) from exc
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class CachedResolver:
    """A resolver that keeps each name's addresses for ``ttl`` seconds.

    Thousands of monitors often name the same few hosts; within the TTL they share one
    lookup, and lookups of a name already under way are joined rather than repeated. Only
    answers are kept, never failures, so a name that stops resolving is seen by the next
    check; at most ``size`` names are kept (the oldest answer goes first). Every address is
    still judged by the policy on every check (:meth:`Network.addresses`).
    """

    def __init__(
        self,
        resolve: Callable[[str], Awaitable[Sequence[str]]] = system_resolve,
        *,
        ttl: float = 5.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resolve = resolve
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._answers: dict[str, tuple[float, list[str]]] = {}
        self._pending: dict[str, asyncio.Future[list[str]]] = {}

    async def __call__(self, host: str) -> list[str]:
        kept = self._answers.get(host)
        if kept is not None:
            if kept[0] > self.clock():
                return list(kept[1])
            del self._answers[host]
        pending = self._pending.get(host)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(host))
            self._pending[host] = pending
            pending.add_done_callback(lambda done: self._settle(host, done))
        # Shielded: one check giving up (its time-out) does not cancel the others' lookup.
        return list(await asyncio.shield(pending))

    def _settle(self, host: str, done: asyncio.Future[list[str]]) -> None:
        self._pending.pop(host, None)
        if not done.cancelled():
            done.exception()  # retrieved, so an answer nobody waits for any more is not logged

    async def _lookup(self, host: str) -> list[str]:
        addresses = list(await self.resolve(host))
        while len(self._answers) >= self.size:
            del self._answers[next(iter(self._answers))]
        self._answers[host] = (self.clock() + self.ttl, addresses)
        return addresses


@dataclass(frozen=True)
class Network:
    """How probes turn names into addresses and which addresses count as public.

    The default is the real system; a test, or a runner with its own resolver, passes another.
    """

    resolve: Callable[[str], Awaitable[Sequence[str]]] = system_resolve
    is_public: Callable[[IPAddress], bool] = is_public_address

    async def addresses(self, host: str, *, allow_private: bool) -> list[str]:
        """Every address of ``host``, each allowed by the policy; never empty.

        One private address among public ones refuses the whole name: the connection could
        land on any of them.
        """
        literal = parse_ip(host)
        if literal is not None:
            if not allow_private and not self.is_public(literal):
                raise TargetRefused(host, str(literal))
            return [str(literal)]
        found = list(await self.resolve(host))
        if not found:
            raise ResolutionFailed(host, "no addresses")
        if not allow_private:
            for text in found:
                address = parse_ip(text)
                if address is None or not self.is_public(address):
                    raise TargetRefused(host, text)
        return found


SYSTEM = Network()


async def open_stream(
    network: Network,
    host: str,
    port: int,
    *,
    allow_private: bool,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    """A connection to the first address of ``host`` that accepts; also names that address.

    Raises TargetRefused, ResolutionFailed, an ssl.SSLError from the handshake, or the last
    OSError when no address accepted.
    """
    addresses = await network.addresses(host, allow_private=allow_private)
    last_error: OSError | None = None
    for address in addresses:
        try:
            reader, writer = await asyncio.open_connection(
                address,
                port,
                limit=STREAM_LIMIT,
                ssl=tls,
                server_hostname=(server_hostname or host) if tls is not None else None,
            )
        except ssl.SSLError:
            raise  # the server answered; another address would not change its certificate
        except OSError as exc:
            last_error = exc
            continue
        return reader, writer, address
    assert last_error is not None  # addresses() never returns an empty list
    raise last_error


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    """Close without letting a peer that never acknowledges hold the probe open."""
    writer.close()
    try:
        async with asyncio.timeout(0.25):
            await writer.wait_closed()
    except (TimeoutError, OSError):
        pass


def describe_os_error(exc: OSError) -> str:
    """Short operator wording for the socket errors a check meets."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, TimeoutError):
        return "connection timed out"
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"connection failed: {text}"
