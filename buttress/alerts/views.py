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
from buttress.alerts.formats import PayloadError, load_json, pagerduty_routing_key
from buttress.alerts.models import MAX_BODY_BYTES, Integration, IntegrationKind
from buttress.alerts.services.integrations import PATHS
from buttress.lib.timeutil import now

JSON_TYPES = ("application/json", "text/json")


class Refused(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.errors = errors or [message]
        self.retry_after = retry_after
        super().__init__(message)


def _read_body(request: HttpRequest) -> bytes:
    """The body, refusing one over the limit before reading it all."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise Refused(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    return body


def _decode(request: HttpRequest) -> tuple[bytes, Any]:
    body = _read_body(request)
    content_type = (request.content_type or "").lower()
    # An empty content type is taken as JSON: some senders omit the header.
    if content_type and content_type not in JSON_TYPES and not content_type.endswith("+json"):
        raise Refused(
            400, f"Send the body as JSON (Content-Type: application/json), not {content_type}."
        )
    try:
        return body, load_json(body)
    except PayloadError as exc:
        raise Refused(400, str(exc), errors=exc.errors) from exc


def _integration(key: str, kind: str) -> Integration:
    integration = services.find_by_key(key)
    if integration is None:
        raise Refused(404, "No integration has this key.")
    if not integration.is_enabled:
        raise Refused(403, "This integration is disabled.")
    if integration.kind != kind:
        path = PATHS.get(integration.kind)
        where = f"post to {path.replace('{key}', '<key>')}" if path else "it receives no webhooks"
        raise Refused(
            400, f"This key belongs to an integration of kind {integration.kind}: {where}."
        )
    return integration


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
    if pagerduty:
        status_text = {429: "throttle event", 403: "forbidden", 404: "unknown routing key"}
        payload: dict[str, Any] = {
            "status": status_text.get(exc.status, "invalid event"),
            "message": exc.message if exc.status != 400 else "Event object is invalid",
            "errors": exc.errors,
        }
    else:
        payload = {"detail": exc.message}
        if len(exc.errors) > 1:
            payload["errors"] = exc.errors
    response = JsonResponse(payload, status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _hook(request: HttpRequest, key: str, kind: str, status: int = 202) -> HttpResponse:
    try:
        integration = _integration(key, kind)
        body, data = _decode(request)
        batch, delivery_id = _accept(request, integration, body, data)
    except Refused as exc:
        return _error(exc)
    return JsonResponse(
        {"status": "success", "delivery": delivery_id, "alerts": len(batch.events)},
        status=status,
    )


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
    # Alertmanager's own API answers 200 here; Prometheus accepts any 2xx.
    return _hook(request, key, IntegrationKind.PROMETHEUS, status=200)


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
        try:
            key = pagerduty_routing_key(data)
        except PayloadError as exc:
            raise Refused(400, str(exc), errors=exc.errors) from exc
        integration = _integration(key, IntegrationKind.PAGERDUTY)
        batch, _ = _accept(request, integration, body, data)
    except Refused as exc:
        return _error(exc, pagerduty=True)
    return JsonResponse(
        {"status": "success", "message": "Event processed", "dedup_key": batch.dedup_key},
        status=202,
    )
