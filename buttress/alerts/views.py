"""The endpoints alert senders post to.

Each request is checked (key, size, content type, JSON, required fields, flood limit),
recorded as a :class:`~buttress.alerts.models.Delivery` and answered; a task turns it into
alerts and incidents afterwards. Bad input is a 4xx naming the problem, never a 500:

- unknown key 404; key of a disabled integration 403 (not recorded: the sender should stop
  rather than retry); key of another kind of integration 400 naming the right endpoint
- body over 512 KiB 413; a content type other than JSON, invalid JSON or missing fields 400
- over the integration's limit per minute 429 with ``Retry-After``
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from buttress.alerts import services, tasks
from buttress.alerts.formats import PayloadError
from buttress.alerts.models import MAX_BODY_BYTES, Integration, IntegrationKind
from buttress.alerts.receiving import (
    TOO_LARGE,
    Refused,
    accepted,
    check_integration,
    decode,
    error_body,
    routing_key,
)
from buttress.lib.timeutil import now


def _read_body(request: HttpRequest) -> bytes:
    """The body, refusing one over the limit before reading it all."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise Refused(413, TOO_LARGE)
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, TOO_LARGE)
    return body


def _decode(request: HttpRequest) -> tuple[bytes, Any]:
    body = _read_body(request)
    return body, decode(body, request.content_type or "")


def _integration(key: str, kind: str) -> Integration:
    return check_integration(services.find_by_key(key), kind)


def _accept(
    request: HttpRequest, integration: Integration, body: bytes, data: Any
) -> tuple[Any, int]:
    """Check the payload, record it and queue its processing; (the parsed batch, delivery id)."""
    received_at = now()
    generated = uuid.uuid4().hex if integration.kind == IntegrationKind.PAGERDUTY else ""
    try:
        batch = services.parse_for(
            integration, data, received_at=received_at, generated_key=generated
        )
    except PayloadError as exc:
        raise Refused(400, str(exc), errors=exc.errors) from exc
    try:
        with transaction.atomic():
            delivery = services.record_delivery(
                integration,
                body=body.decode("utf-8"),
                content_type=request.content_type or "",
                generated_key=generated if batch.dedup_key == generated else "",
                at=received_at,
            )
            tasks.enqueue_processing(delivery)
    except services.RateLimited as exc:
        raise Refused(429, str(exc), retry_after=exc.retry_after_seconds) from exc
    return batch, delivery.pk


def _error(exc: Refused, *, pagerduty: bool = False) -> JsonResponse:
    response = JsonResponse(error_body(exc, pagerduty=pagerduty), status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _hook(request: HttpRequest, key: str, kind: str) -> HttpResponse:
    try:
        integration = _integration(key, kind)
        body, data = _decode(request)
        batch, delivery_id = _accept(request, integration, body, data)
    except Refused as exc:
        return _error(exc)
    status, payload = accepted(kind, batch, delivery_id)
    return JsonResponse(payload, status=status)


@csrf_exempt
@require_POST
def alertmanager(request: HttpRequest, key: str) -> HttpResponse:
    return _hook(request, key, IntegrationKind.ALERTMANAGER)


@csrf_exempt
@require_POST
def grafana(request: HttpRequest, key: str) -> HttpResponse:
    return _hook(request, key, IntegrationKind.GRAFANA)


@csrf_exempt
@require_POST
def prometheus(request: HttpRequest, key: str) -> HttpResponse:
    return _hook(request, key, IntegrationKind.PROMETHEUS)


@csrf_exempt
@require_POST
def generic(request: HttpRequest, key: str) -> HttpResponse:
    return _hook(request, key, IntegrationKind.GENERIC)


@csrf_exempt
@require_POST
def pagerduty(request: HttpRequest) -> HttpResponse:
    """PagerDuty Events API v2: the integration key is the event's ``routing_key``."""
    try:
        body, data = _decode(request)
        integration = _integration(routing_key(data), IntegrationKind.PAGERDUTY)
        batch, delivery_id = _accept(request, integration, body, data)
    except Refused as exc:
        return _error(exc, pagerduty=True)
    status, payload = accepted(IntegrationKind.PAGERDUTY, batch, delivery_id)
    return JsonResponse(payload, status=status)
