"""Outgoing webhooks: the signature and the HTTP POST.

Each request carries ``Buttress-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 of ``"<t>.<raw body>"`` under the endpoint's secret (as Stripe signs its webhooks).
A receiver recomputes it over the raw body, compares in constant time and refuses a ``t`` too
far from its own clock (replays); :func:`verify` does exactly that.

The POST resolves the endpoint's host itself, checks every address against the private-address
policy of the check probes and connects only to an address it checked (no DNS rebinding);
redirects are not followed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from buttress.monitoring.probes.network import (
    SYSTEM,
    Network,
    ResolutionFailed,
    TargetRefused,
    parse_ip,
)

SIGNATURE_HEADER = "Buttress-Signature"
TOLERANCE_SECONDS = 300
TIMEOUT_SECONDS = 10.0
EXCERPT_BYTES = 1000
USER_AGENT = "buttress-webhooks/1"


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Is ``header`` a valid signature of ``body`` under ``secret``, made within ``tolerance``
    seconds of ``now``?"""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - t) > tolerance:
        return False
    expected = sign(secret, body, timestamp=t).rsplit("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    excerpt: str
    error: str


class _PolicyResolver(AbstractResolver):
    def __init__(self, network: Network, *, allow_private: bool) -> None:
        self.network = network
        self.allow_private = allow_private
        self.error: TargetRefused | ResolutionFailed | None = None

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        try:
            addresses = await self.network.addresses(host, allow_private=self.allow_private)
        except (TargetRefused, ResolutionFailed) as exc:
            self.error = exc
            raise OSError(str(exc)) from exc
        results: list[ResolveResult] = []
        for address in addresses:
            ip = parse_ip(address)
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": socket.AF_INET6 if ip and ip.version == 6 else socket.AF_INET,
                    "proto": 0,
                    "flags": 0,
                }
            )
        return results

    async def close(self) -> None:
        return None


async def _post(
    url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, network: Network
) -> Outcome:
    target = URL(url)
    if target.host is not None and parse_ip(target.host) is not None:
        # aiohttp skips the resolver for literal addresses; judge them here.
        try:
            await network.addresses(target.host, allow_private=allow_private)
        except TargetRefused as exc:
            return Outcome(ok=False, status=None, excerpt="", error=str(exc))
    resolver = _PolicyResolver(network, allow_private=allow_private)
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, force_close=True)
    session = aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
        headers={"User-Agent": USER_AGENT},
    )
    async with session:
        try:
            async with session.post(
                target, data=body, headers=headers, allow_redirects=False
            ) as response:
                content = await response.content.read(EXCERPT_BYTES)
                excerpt = content.decode("utf-8", errors="replace")
                ok = 200 <= response.status < 300
                error = "" if ok else f"HTTP {response.status}"
                return Outcome(ok=ok, status=response.status, excerpt=excerpt, error=error)
        except aiohttp.ClientConnectorError as exc:
            reason = str(resolver.error) if resolver.error is not None else str(exc.os_error)
            return Outcome(ok=False, status=None, excerpt="", error=reason)
        except (aiohttp.ClientError, TimeoutError) as exc:
            text = str(exc) or type(exc).__name__
            return Outcome(ok=False, status=None, excerpt="", error=f"request failed: {text}")


def post(
    url: str,
    payload: dict[str, Any],
    *,
    secret: str,
    event: str,
    delivery_id: int,
    allow_private: bool,
    network: Network = SYSTEM,
) -> Outcome:
    """POST ``payload`` signed under ``secret``; never raises for network trouble."""
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body),
        "Buttress-Event": event,
        "Buttress-Delivery": str(delivery_id),
    }
    return asyncio.run(_post(url, body, headers, allow_private=allow_private, network=network))


def check_url(url: str, *, allow_private: bool, network: Network = SYSTEM) -> str | None:
    """Why ``url`` cannot be a webhook target (scheme, host, private address), or None."""
    try:
        target = URL(url.strip())
    except (ValueError, TypeError):
        return "Enter a valid http:// or https:// URL."
    if target.scheme not in {"http", "https"} or not target.host:
        return "Enter a valid http:// or https:// URL."
    if allow_private:
        return None
    try:
        asyncio.run(network.addresses(target.host, allow_private=False))
    except TargetRefused as exc:
        return str(exc).replace("refused: ", "Refused: ") + "."
    except ResolutionFailed:
        return None  # may resolve later; each delivery checks again
    return None
