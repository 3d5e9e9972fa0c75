"""The heartbeat ping endpoint, ``/ping/...``, answering as the Healthchecks ping API does.

Jobs call it with curl from cron, so it takes HEAD, GET and POST without a CSRF token or any
session, answers in plain text, and costs a handful of queries: the monitor is found by its
unique uuid (or the key's hash and the slug) and the ping, the monitor's new state and at most
one state change are written in one transaction.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from buttress.accounts.http import client_ip
from buttress.monitoring import services
from buttress.monitoring.models import Monitor, PingKey
from buttress.monitoring.pinging import BadPing, PingRequest, parse_ping_path, parse_rid


def _answer(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    response["Ping-Body-Limit"] = str(services.ping_body_limit())
    return response


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


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def ping(request: HttpRequest, path: str) -> HttpResponse:
    try:
        target = parse_ping_path(path)
        rid = parse_rid(request.GET.get("rid"))
    except BadPing as exc:
        return _answer(exc.message, exc.status)
    body, size = _body(request)
    signal = PingRequest(
        kind=target.kind,
        exit_status=target.exit_status,
        rid=rid,
        remote_addr=client_ip(request),
        method=request.method or "GET",
        user_agent=str(request.META.get("HTTP_USER_AGENT", "")),
        body=body,
        body_size=size,
    )
    try:
        if target.code is not None:
            services.ping_by_uuid(target.code, signal)
            return _answer("OK")
        create = request.GET.get("create") == "1"
        _, created = services.ping_by_slug(target.key, target.slug, signal, create=create)
    except (Monitor.DoesNotExist, PingKey.DoesNotExist):
        return _answer("not found", 404)
    except services.AmbiguousSlug:
        return _answer("ambiguous slug: several monitors have it", 409)
    return _answer("Created", 201) if created else _answer("OK")
