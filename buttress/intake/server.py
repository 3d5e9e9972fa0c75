"""``buttress intake``: the heartbeat pings and alert webhooks, answered by an asyncio server.

The same URLs as the Django views (``/ping/...``, ``/hooks/...``, ``/v2/enqueue``) with the
same answers, for installations whose senders outrun what a Django request can cost. HTTP/1.1
is parsed by aiohttp's low-level server (llhttp, keep-alive, header and line limits answered
with 400); bodies are bounded (413); every write goes through a :class:`Committer`, which
writes the requests of a few milliseconds in one transaction and answers each request only
once its batch has committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from django.conf import settings

from buttress.accounts.http import forwarded_client
from buttress.alerts.models import MAX_BODY_BYTES, IntegrationKind
from buttress.alerts.receiving import TOO_LARGE, Refused, decode, routing_key
from buttress.intake.alerts import AlertAnswer, AlertItem, refusal, write_alerts
from buttress.intake.commit import Committer, Unavailable
from buttress.lib.timeutil import now
from buttress.monitoring import services as monitoring
from buttress.monitoring.ingest import PingItem, record_pings
from buttress.monitoring.pinging import BadPing, PingRequest, parse_ping_path, parse_rid

logger = logging.getLogger(__name__)

PING_METHODS = ("GET", "HEAD", "POST")
HOOKS = {
    "alertmanager": IntegrationKind.ALERTMANAGER,
    "grafana": IntegrationKind.GRAFANA,
    "generic": IntegrationKind.GENERIC,
}
PING_ANSWERS = {200: "OK", 201: "Created", 404: "not found"}
AMBIGUOUS = "ambiguous slug: several monitors have it"
RETRY_AFTER = "1"
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """The bounds a request must keep; past them it is answered 413 (or 400 by the parser)."""

    ping_body: int  # bytes of a ping body accepted (of which ping_body_limit() are kept)
    max_line: int = 8190
    max_field: int = 8190


def limits() -> Limits:
    return Limits(ping_body=int(getattr(settings, "INTAKE_MAX_PING_BODY", 1024 * 1024)))


class TooLarge(Exception):
    pass


async def _read(request: web.BaseRequest, cap: int, keep: int | None = None) -> tuple[bytes, int]:
    """(the first ``keep`` bytes of the body, or all of it, and its size); TooLarge past ``cap``."""
    declared = request.content_length
    if declared is not None and declared > cap:
        raise TooLarge
    kept = bytearray()
    size = 0
    while chunk := await request.content.read(READ_CHUNK):
        size += len(chunk)
        if size > cap:
            raise TooLarge
        if keep is None or len(kept) < keep:
            kept += chunk if keep is None else chunk[: keep - len(kept)]
    return bytes(kept), size


def _text(text: str, status: int, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="text/plain", charset="utf-8", headers=headers
    )


def _json(answer: AlertAnswer) -> web.Response:
    headers = {"Retry-After": str(answer.retry_after)} if answer.retry_after is not None else {}
    return web.Response(
        body=json.dumps(answer.payload).encode(),
        status=answer.status,
        content_type="application/json",
        headers=headers,
    )


def _unavailable(*, as_json: bool) -> web.Response:
    message = "The database is not answering; retry shortly."
    headers = {"Retry-After": RETRY_AFTER}
    if as_json:
        return web.Response(
            body=json.dumps({"detail": message}).encode(),
            status=503,
            content_type="application/json",
            headers=headers,
        )
    return _text(message, 503, headers=headers)


def _too_large(message: str, *, as_json: bool) -> web.Response:
    if as_json:
        response = web.Response(
            body=json.dumps({"detail": message}).encode(),
            status=413,
            content_type="application/json",
        )
    else:
        response = _text(message, 413)
    # The rest of the body is not read: the connection cannot carry another request.
    response.force_close()
    return response


class Intake:
    """The request handler and its two committers (pings, alert deliveries)."""

    def __init__(
        self, *, window: float = 0.002, max_batch: int = 500, pumped: bool = False
    ) -> None:
        self.limits = limits()
        self.pings: Committer[PingItem, int] = Committer(
            record_pings, name="pings", window=window, max_batch=max_batch, pumped=pumped
        )
        self.alerts: Committer[AlertItem, AlertAnswer] = Committer(
            write_alerts, name="alerts", window=window, max_batch=max_batch, pumped=pumped
        )

    def start(self) -> None:
        self.pings.start()
        self.alerts.start()

    def stop(self) -> None:
        self.pings.stop()
        self.alerts.stop()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path.startswith("/ping/"):
            return await self._ping(request, path[len("/ping/") :])
        if path == "/v2/enqueue":
            return await self._hook(request, None, IntegrationKind.PAGERDUTY)
        if path.startswith("/hooks/"):
            parts = path[len("/hooks/") :].split("/")
            if len(parts) == 2 and parts[0] in HOOKS and parts[1]:
                return await self._hook(request, parts[1], HOOKS[parts[0]])
            if len(parts) == 4 and parts[0] and parts[1:] == ["api", "v2", "alerts"]:
                return await self._hook(request, parts[0], IntegrationKind.PROMETHEUS)
        if path == "/healthz":
            return _text("ok", 200) if request.method in ("GET", "HEAD") else _not_allowed("GET")
        return _text("not found", 404)

    # --- pings ------------------------------------------------------------------------------

    def _ping_headers(self) -> dict[str, str]:
        return {
            "Access-Control-Allow-Origin": "*",
            "Ping-Body-Limit": str(monitoring.ping_body_limit()),
        }

    async def _ping(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        if request.method not in PING_METHODS:
            return _not_allowed(", ".join(PING_METHODS))
        headers = self._ping_headers()
        try:
            target = parse_ping_path(path)
            rid = parse_rid(request.query.get("rid"))
        except BadPing as exc:
            return _text(exc.message, exc.status, headers=headers)
        body, size = b"", 0
        if request.method == "POST":
            try:
                body, size = await _read(
                    request, self.limits.ping_body, keep=monitoring.ping_body_limit()
                )
            except TooLarge:
                return _too_large(
                    f"The body is larger than {self.limits.ping_body} bytes.", as_json=False
                )
        item = PingItem(
            target=target,
            request=PingRequest(
                kind=target.kind,
                exit_status=target.exit_status,
                rid=rid,
                remote_addr=forwarded_client(
                    request.remote or "", request.headers.get("X-Forwarded-For", "")
                ),
                method=request.method,
                user_agent=request.headers.get("User-Agent", ""),
                body=body,
                body_size=size,
            ),
            at=now(),
            create=request.query.get("create") == "1",
        )
        answer = await self.pings.submit(item)
        if isinstance(answer, Unavailable):
            return _unavailable(as_json=False)
        text = AMBIGUOUS if answer == 409 else PING_ANSWERS[answer]
        return _text(text, answer, headers=headers)

    # --- alert webhooks ---------------------------------------------------------------------

    async def _hook(
        self, request: web.BaseRequest, key: str | None, kind: str
    ) -> web.StreamResponse:
        if request.method != "POST":
            return _not_allowed("POST")
        content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip()
        try:
            body, _ = await _read(request, MAX_BODY_BYTES)
        except TooLarge:
            if kind == IntegrationKind.PAGERDUTY:
                return _json_too_large(refusal(Refused(413, TOO_LARGE), kind))
            return _too_large(TOO_LARGE, as_json=True)
        try:
            data = decode(body, content_type)
            if key is None:
                key = routing_key(data)
        except Refused as exc:
            return _json(refusal(exc, kind))
        item = AlertItem(
            key=key, kind=kind, body=body, data=data, content_type=content_type, at=now()
        )
        answer = await self.alerts.submit(item)
        if isinstance(answer, Unavailable):
            return _unavailable(as_json=True)
        return _json(answer)


def _json_too_large(answer: AlertAnswer) -> web.Response:
    response = _json(answer)
    response.force_close()
    return response


def _not_allowed(allowed: str) -> web.Response:
    return _text("method not allowed", 405, headers={"Allow": allowed})


async def serve(
    host: str,
    port: int,
    intake: Intake,
    *,
    ready: asyncio.Event | None = None,
    reuse_port: bool = False,
) -> None:
    """Answer on ``host:port`` until SIGTERM or SIGINT (or the task is cancelled).

    ``reuse_port``: share the address with other intake processes (SO_REUSEPORT); the kernel
    hands each new connection to one of them."""
    server = web.Server(
        intake.handle,
        access_log=None,
        max_line_size=intake.limits.max_line,
        max_field_size=intake.limits.max_field,
    )
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(
        server, host, port, reuse_address=True, reuse_port=reuse_port or None, backlog=1024
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            break
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        listener.close()
        await listener.wait_closed()
        await server.shutdown(5.0)


def run(host: str, port: int, *, reuse_port: bool = False, **options: Any) -> None:
    """Start the committers, serve until a signal, then write what is queued and stop."""
    intake = Intake(**options)
    intake.start()
    try:
        asyncio.run(serve(host, port, intake, reuse_port=reuse_port))
    finally:
        intake.stop()
        # One line per kind for whoever reads the log (and the benchmarks).
        for committer in (intake.pings, intake.alerts):
            print(f"intake {committer.name}: {committer.describe()}", file=sys.stderr, flush=True)  # noqa: T201
