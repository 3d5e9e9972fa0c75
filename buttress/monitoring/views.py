"""The heartbeat ping endpoint, ``/ping/...``, answering as the Healthchecks ping API does.

Jobs call it with curl from cron, so it takes HEAD, GET and POST without a CSRF token or any
session, answers in plain text, and costs a handful of queries: the monitor is found by its
unique uuid (or the key's hash and the slug) and the ping, the monitor's new state and at most
one state change are written in one transaction.
"""

from __future__ import annotations

import re
import uuid

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from buttress.accounts.http import client_ip
from buttress.monitoring import services
from buttress.monitoring.models import Monitor, PingKey, PingKind

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_RID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_SIGNALS = {"start": PingKind.START, "fail": PingKind.FAIL, "log": PingKind.LOG}
MAX_EXIT_STATUS = 255


class BadPing(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _answer(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    response["Ping-Body-Limit"] = str(services.ping_body_limit())
    return response


def _signal(action: str | None) -> tuple[str, int | None]:
    """(ping kind, exit status) of the URL's last part; BadPing when it is none."""
    if action is None:
        return PingKind.SUCCESS, None
    if action in _SIGNALS:
        return _SIGNALS[action], None
    if action.isascii() and action.isdigit():
        code = int(action)
        if code > MAX_EXIT_STATUS:
            raise BadPing(400, f"exit status {code} is out of range (0-{MAX_EXIT_STATUS})")
        return PingKind.EXIT, code
    raise BadPing(404, "not found")


def _rid(request: HttpRequest) -> uuid.UUID | None:
    value = request.GET.get("rid")
    if value is None:
        return None
    if not _RID.match(value):
        raise BadPing(400, "rid must be a UUID")
    return uuid.UUID(value)


def _body(request: HttpRequest) -> tuple[bytes, int]:
    """The first bytes of the body (up to the kept limit) and the body's full size."""
    limit = services.ping_body_limit()
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if request.method != "POST" or size <= 0:
        return b"", 0
    # Only what is kept is read into memory: a job may send a log far larger than the limit.
    body = request.read(limit) if limit > 0 else b""
    return body, size


def _parse(path: str) -> tuple[str | None, tuple[str, str] | None, str | None]:
    """(uuid, (key, slug), action) of a ping path; exactly one of the first two is set."""
    parts = path.split("/")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing slash is allowed
    if not parts or "" in parts or len(parts) > 3:
        raise BadPing(404, "not found")
    if _UUID.match(parts[0]):
        if len(parts) > 2:
            raise BadPing(404, "not found")
        return parts[0], None, parts[1] if len(parts) == 2 else None
    if len(parts) < 2:
        raise BadPing(404, "not found")
    key, slug = parts[0], parts[1]
    if not services.SLUG.match(slug):
        raise BadPing(400, "invalid slug: use lowercase letters, digits, '-' and '_'")
    return None, (key, slug), parts[2] if len(parts) == 3 else None


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def ping(request: HttpRequest, path: str) -> HttpResponse:
    try:
        code, by_slug, action = _parse(path)
        kind, exit_status = _signal(action)
        rid = _rid(request)
    except BadPing as exc:
        return _answer(exc.message, exc.status)
    body, size = _body(request)
    signal = services.PingRequest(
        kind=kind,
        exit_status=exit_status,
        rid=rid,
        remote_addr=client_ip(request),
        method=request.method or "GET",
        user_agent=str(request.META.get("HTTP_USER_AGENT", "")),
        body=body,
        body_size=size,
    )
    try:
        if code is not None:
            services.ping_by_uuid(uuid.UUID(code), signal)
            return _answer("OK")
        assert by_slug is not None
        key, slug = by_slug
        create = request.GET.get("create") == "1"
        _, created = services.ping_by_slug(key, slug, signal, create=create)
    except (Monitor.DoesNotExist, PingKey.DoesNotExist):
        return _answer("not found", 404)
    except services.AmbiguousSlug:
        return _answer("ambiguous slug: several monitors have it", 409)
    return _answer("Created", 201) if created else _answer("OK")
