"""HTTP(S) check: status, body keyword, JSON assertions, latency, redirects, TLS.

Most checks go through the lean HTTP/1.1 client of :mod:`buttress.monitoring.probes.http1`:
the probe resolves the hop's host through its ``Network`` (which refuses private addresses
unless allowed) and the client connects to exactly those addresses, so a name cannot answer
differently between the check and the connection. A monitor's request bytes are built once,
with its spec. Requests the lean client leaves alone (their own headers set the framing, the
connection or the accepted content codings) go through aiohttp, whose connector takes a
resolver that hands it only addresses that passed the same policy.

What a check measures: resolving the name (through the probe's ``Network``), opening a new
TCP connection, the full TLS handshake for ``https`` (certificate verified unless
``verify_tls`` is off), sending the request and reading the answer. Every check opens its own
connection and closes it after the answer: a connection kept alive from an earlier check
would hide a listener that has stopped accepting, and a resumed TLS session would skip the
certificate the check must see. What does not depend on the target is shared between checks
by an :class:`HttpClient` (the runner keeps one) for the checks that go through aiohttp: the
session and its connector, the default headers; cookies are never kept. Each path builds its
verified and its unverified TLS context once per process.

Redirects are followed here, on both paths, so that each hop's URL is checked (an IP literal
never reaches a resolver) and recorded.
"""

from __future__ import annotations

import contextvars
import json
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from buttress.monitoring.probes import http1
from buttress.monitoring.probes.jsoncheck import JsonAssertion
from buttress.monitoring.probes.network import (
    SYSTEM,
    Network,
    ResolutionFailed,
    TargetRefused,
    describe_os_error,
    parse_ip,
)
from buttress.monitoring.probes.result import ProbeResult, Stopwatch, bounded, down, judge
from buttress.monitoring.probes.validate import (
    check_host,
    check_int,
    check_number,
    check_timeout,
    fail,
)

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MIB = 1024 * 1024
USER_AGENT = "buttress-monitor/1"
_REDIRECTS = http1.REDIRECTS
_CREDENTIALS = {"authorization", "cookie", "proxy-authorization"}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_STATUS = re.compile(r"^\s*([1-5])xx\s*$|^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class HttpSpec:
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    # A list of codes and ranges ("200-299", "2xx", 301), or one comma-separated string.
    expected_status: str | Iterable[int | str] = "200-299"
    keyword: str | None = None
    keyword_present: bool = True  # False: the check fails when the keyword is in the body
    json_assertions: tuple[JsonAssertion, ...] = ()
    max_latency_ms: float | None = None
    follow_redirects: bool = True
    max_redirects: int = 10
    verify_tls: bool = True
    max_body_bytes: int = MIB
    timeout: float = 10.0
    allow_private: bool = False
    status_ranges: tuple[tuple[int, int], ...] = field(init=False, repr=False, default=())
    # The first request as the lean client sends it; None: the check goes through aiohttp.
    plan: http1.Plan | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "url", _check_url("url", self.url))
        method = self.method.upper() if isinstance(self.method, str) else self.method
        if method not in METHODS:
            raise fail("method", f"{self.method!r} is not one of {', '.join(METHODS)}")
        set_(self, "method", method)
        set_(self, "headers", MappingProxyType(_check_headers(self.headers)))
        set_(self, "status_ranges", _parse_statuses(self.expected_status))
        if self.keyword is not None and not self.keyword:
            raise fail("keyword", "must not be empty (leave it unset to skip the check)")
        if not all(isinstance(item, JsonAssertion) for item in self.json_assertions):
            raise fail("json_assertions", "each item must be a JsonAssertion")
        set_(self, "json_assertions", tuple(self.json_assertions))
        if self.max_latency_ms is not None:
            check_number("max_latency_ms", self.max_latency_ms, low=0, high=600_000)
        check_int("max_redirects", self.max_redirects, low=0, high=30)
        check_int("max_body_bytes", self.max_body_bytes, low=1, high=16 * MIB)
        set_(self, "timeout", check_timeout(self.timeout))
        body = self.body.encode() if self.body is not None else None
        set_(self, "plan", http1.prepare(URL(self.url), self.method, self.headers, body))

    def accepts(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.status_ranges)

    def describe_expected(self) -> str:
        parts = [str(low) if low == high else f"{low}-{high}" for low, high in self.status_ranges]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _check_url(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(name, "a URL is required")
    try:
        url = URL(value.strip())
        port = url.port
    except (ValueError, TypeError) as exc:
        raise fail(name, f"{value!r} is not a valid URL") from exc
    if url.scheme not in {"http", "https"}:
        raise fail(name, f"{value!r} must start with http:// or https://")
    if not url.host:
        raise fail(name, f"{value!r} has no host")
    check_host(name, url.host)
    if port is not None and not 1 <= port <= 65535:
        raise fail(name, f"{value!r} has an invalid port")
    return str(url)


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(headers, Mapping):
        raise fail("headers", "must be a mapping of names to values")
    checked: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not _TOKEN.match(key):
            raise fail("headers", f"{key!r} is not a valid header name")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise fail("headers", f"the value of {key} must be text on one line")
        checked[key] = value
    return checked


def _parse_statuses(expected: str | Iterable[int | str]) -> tuple[tuple[int, int], ...]:
    items: list[int | str] = (
        [part for part in expected.split(",") if part.strip()]
        if isinstance(expected, str)
        else list(expected)
    )
    if not items:
        raise fail("expected_status", "at least one status code or range is required")
    ranges: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            low = high = item
        elif isinstance(item, str) and (match := _STATUS.match(item)):
            if match.group(1):
                low, high = int(match.group(1)) * 100, int(match.group(1)) * 100 + 99
            else:
                low = int(match.group(2))
                high = int(match.group(3) or low)
        else:
            raise fail("expected_status", f"{item!r} is not a status code or range like 200-299")
        if not 100 <= low <= high <= 599:
            raise fail("expected_status", f"{item!r} is outside 100-599 or reversed")
        ranges.append((low, high))
    return tuple(ranges)


@dataclass
class _Check:
    """The policy of the check a resolution belongs to, and why it refused, if it did."""

    network: Network
    allow_private: bool
    error: TargetRefused | ResolutionFailed | None = None


# The check running in the current task: a shared connector's resolver reads its policy here.
_CURRENT: contextvars.ContextVar[_Check] = contextvars.ContextVar("http_check")


class _PolicyResolver(AbstractResolver):
    """Hands aiohttp only addresses the current check's policy allowed, and remembers why it
    refused. One resolver serves every check of a shared session: each check's task carries
    its own policy and network in a context variable."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        check = _CURRENT.get()
        try:
            addresses = await check.network.addresses(host, allow_private=check.allow_private)
        except (TargetRefused, ResolutionFailed) as exc:
            check.error = exc
            # aiohttp turns an OSError from its resolver into a connection error.
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


class HttpClient:
    """An aiohttp session shared by many checks on one event loop (the checks the lean client
    leaves to aiohttp; it is only opened for the first of them).

    Its connector has no limit of its own (the runner decides how many checks run), no DNS
    cache (the probe's ``Network`` resolves and vets every name) and closes each connection
    after its answer, so every check connects, and shakes hands, afresh. Cookies are never
    kept and the environment's proxy settings never used (a proxy would connect on our behalf
    to addresses we never checked).
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=_PolicyResolver(), use_dns_cache=False, force_close=True, limit=0
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def probe_http(
    spec: HttpSpec, *, network: Network = SYSTEM, client: HttpClient | None = None
) -> ProbeResult:
    """One HTTP(S) check; with ``client``, on its shared session, else on a session of its
    own (closed before returning)."""
    if client is not None:
        return await bounded(spec.timeout, _probe(spec, network, client), kind="http")
    own = HttpClient()
    try:
        return await bounded(spec.timeout, _probe(spec, network, own), kind="http")
    finally:
        await own.close()


async def _probe(spec: HttpSpec, network: Network, client: HttpClient) -> ProbeResult:
    if spec.plan is not None:
        return await _probe_lean(spec, spec.plan, network)
    check = _Check(network, spec.allow_private)
    token = _CURRENT.set(check)
    try:
        clock = Stopwatch()
        try:
            return await _exchange(spec, client.session(), network, clock)
        except (TargetRefused, ResolutionFailed) as exc:
            return down(str(exc))
        except aiohttp.ClientConnectorCertificateError as exc:
            error = exc.certificate_error
            reason = getattr(error, "verify_message", None) or str(error)
            return down(f"TLS certificate not trusted: {reason}")
        except aiohttp.ClientConnectorError as exc:
            if check.error is not None:
                return down(str(check.error))
            if isinstance(exc.os_error, ssl.SSLError):
                return down(f"TLS handshake failed: {exc.os_error.reason or exc.os_error}")
            return down(describe_os_error(exc.os_error))
        except aiohttp.ServerDisconnectedError:
            return down("server closed the connection without answering")
        except aiohttp.ClientResponseError as exc:
            return down(f"invalid HTTP response: {exc.message}")
        except aiohttp.ClientPayloadError as exc:
            return down(f"response body broken off: {exc}")
        except aiohttp.ClientError as exc:
            return down(f"HTTP request failed: {exc}")
    finally:
        _CURRENT.reset(token)


async def _probe_lean(spec: HttpSpec, plan: http1.Plan, network: Network) -> ProbeResult:
    """The check through the lean client; every hop's host is vetted by the policy first."""
    clock = Stopwatch()
    request = _Request(
        plan.url,
        spec.method,
        spec.body.encode() if spec.body is not None else None,
        spec.headers,
    )
    hops: list[str] = []
    try:
        while True:
            addresses = await network.addresses(plan.host, allow_private=spec.allow_private)
            response = await http1.fetch(
                plan,
                addresses,
                verify=spec.verify_tls,
                limit=spec.max_body_bytes,
                follow_redirects=spec.follow_redirects,
            )
            step = _follow(
                spec,
                request,
                status=response.status,
                location=response.headers.get("location"),
                hops=hops,
                clock=clock,
            )
            if isinstance(step, ProbeResult):
                return step
            if step is not None:
                request = step
                next_plan = http1.prepare(step.url, step.method, step.headers, step.body)
                assert next_plan is not None  # same headers, and _check_url allowed the scheme
                plan = next_plan
                continue
            return _answer(
                spec,
                url=request.url,
                hops=hops,
                status=response.status,
                charset=response.charset,
                content=response.body,
                truncated=response.truncated,
                clock=clock,
            )
    except (TargetRefused, ResolutionFailed) as exc:
        return down(str(exc))
    except ssl.SSLCertVerificationError as exc:
        return down(f"TLS certificate not trusted: {exc.verify_message or exc}")
    except ssl.SSLError as exc:
        return down(f"TLS handshake failed: {exc.reason or exc}")
    except http1.Disconnected:
        return down("server closed the connection without answering")
    except http1.BadResponse as exc:
        return down(f"invalid HTTP response: {exc}")
    except http1.BrokenBody as exc:
        return down(f"response body broken off: {exc}")
    except http1.Broken as exc:
        return down(f"HTTP request failed: {exc}")
    except OSError as exc:
        return down(describe_os_error(exc))


async def _exchange(
    spec: HttpSpec, session: aiohttp.ClientSession, network: Network, clock: Stopwatch
) -> ProbeResult:
    request = _Request(
        URL(spec.url),
        spec.method,
        spec.body.encode() if spec.body is not None else None,
        dict(spec.headers),
    )
    hops: list[str] = []
    while True:
        url = request.url
        if url.host is not None and parse_ip(url.host) is not None:
            # aiohttp skips the resolver for literal addresses; judge them here.
            await network.addresses(url.host, allow_private=spec.allow_private)
        async with session.request(
            request.method,
            url,
            headers=request.headers,
            data=request.body,
            allow_redirects=False,
            ssl=spec.verify_tls,
        ) as response:
            step = _follow(
                spec,
                request,
                status=response.status,
                location=response.headers.get("Location"),
                hops=hops,
                clock=clock,
            )
            if isinstance(step, ProbeResult):
                return step
            if step is not None:
                request = step
                continue
            content, truncated = await _read_bounded(response, spec.max_body_bytes)
            return _answer(
                spec,
                url=url,
                hops=hops,
                status=response.status,
                charset=lambda: response.charset,
                content=content,
                truncated=truncated,
                clock=clock,
            )


@dataclass(frozen=True)
class _Request:
    """One hop of a check: what is sent where."""

    url: URL
    method: str
    body: bytes | None
    headers: Mapping[str, str]


def _follow(
    spec: HttpSpec,
    request: _Request,
    *,
    status: int,
    location: str | None,
    hops: list[str],
    clock: Stopwatch,
) -> _Request | ProbeResult | None:
    """After an answer to ``request``: the next hop when it is a redirect to follow (its
    target added to ``hops``), a down result when it cannot be followed, None when it is the
    answer to judge. The same rules for both transports."""
    if not (spec.follow_redirects and status in _REDIRECTS and location):
        return None
    url = request.url
    if len(hops) >= spec.max_redirects:
        return down(
            f"too many redirects (more than {spec.max_redirects})",
            latency_ms=clock.ms(),
            detail={"redirects": hops, "url": str(url)},
        )
    try:
        target = url.join(URL(location))
        _check_url("Location", str(target))
    except ValueError as exc:
        return down(f"bad redirect from {url}: {exc}", latency_ms=clock.ms())
    hops.append(str(target))
    headers = request.headers
    if target.origin() != url.origin():
        # Credentials meant for the monitored site never follow it elsewhere.
        headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
    method, body = request.method, request.body
    if status == 303 or (status in {301, 302} and method not in {"GET", "HEAD"}):
        method, body = "GET", None
    return _Request(target, method, body, headers)


def _answer(
    spec: HttpSpec,
    *,
    url: URL,
    hops: list[str],
    status: int,
    charset: Callable[[], str | None],
    content: bytes,
    truncated: bool,
    clock: Stopwatch,
) -> ProbeResult:
    """The check's result from the final answer."""
    latency = clock.ms()
    detail: dict[str, Any] = {
        "status_code": status,
        "url": str(url),
        "redirects": hops,
        "body_bytes": len(content),
        "body_truncated": truncated,
    }
    problems = _judge_response(
        spec,
        status=status,
        charset=charset,
        content=content,
        truncated=truncated,
        latency=latency,
    )
    return judge(
        problems,
        success=f"HTTP {status} in {latency:.0f} ms",
        latency_ms=latency,
        detail=detail,
    )


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await response.content.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit], True


def _judge_response(
    spec: HttpSpec,
    *,
    status: int,
    charset: Callable[[], str | None],
    content: bytes,
    truncated: bool,
    latency: float,
) -> list[str]:
    problems: list[str] = []
    if not spec.accepts(status):
        problems.append(f"expected status {spec.describe_expected()}, got {status}")
    if spec.max_latency_ms is not None and latency > spec.max_latency_ms:
        problems.append(f"response took {latency:.0f} ms (limit {spec.max_latency_ms:g} ms)")
    if spec.keyword is not None:
        try:
            text = content.decode(charset() or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            text = content.decode("utf-8", errors="replace")
        found = spec.keyword in text
        if spec.keyword_present and not found:
            problems.append(f"keyword {spec.keyword!r} not found")
        elif not spec.keyword_present and found:
            problems.append(f"keyword {spec.keyword!r} found but must be absent")
    if spec.json_assertions:
        problems.extend(_json_problems(spec.json_assertions, content, truncated))
    return problems


def _json_problems(
    assertions: tuple[JsonAssertion, ...], content: bytes, truncated: bool
) -> list[str]:
    if truncated:
        return ["response body too large to check JSON"]
    try:
        document = json.loads(content)
    except ValueError:
        return ["response is not valid JSON"]
    return [reason for check in assertions if (reason := check.failure(document)) is not None]
