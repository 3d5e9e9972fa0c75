"""What the alert endpoints check and answer, with no request object: shared by both transports.

The Django views (:mod:`buttress.alerts.views`) and the intake process (:mod:`buttress.intake`)
refuse the same requests with the same status and body:

- unknown key 404; key of a disabled integration 403 (not recorded: the sender should stop
  rather than retry); key of another kind of integration 400 naming the right endpoint
- body over 512 KiB 413; a content type other than JSON, invalid JSON or missing fields 400
- over the integration's limit per minute 429 with ``Retry-After``
"""

from __future__ import annotations

from typing import Any

from buttress.alerts.formats import Batch, PayloadError, load_json, pagerduty_routing_key
from buttress.alerts.models import MAX_BODY_BYTES, Integration, IntegrationKind
from buttress.alerts.services.integrations import PATHS

JSON_TYPES = ("application/json", "text/json")
TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES // 1024} KiB."


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


def decode(body: bytes, content_type: str) -> Any:
    """The JSON of a body already read (and no larger than MAX_BODY_BYTES); Refused if bad.

    ``content_type`` is the media type alone, without parameters.
    """
    content_type = content_type.lower()
    # An empty content type is taken as JSON: some senders omit the header.
    if content_type and content_type not in JSON_TYPES and not content_type.endswith("+json"):
        raise Refused(
            400, f"Send the body as JSON (Content-Type: application/json), not {content_type}."
        )
    try:
        return load_json(body)
    except PayloadError as exc:
        raise Refused(400, str(exc), errors=exc.errors) from exc


def routing_key(data: Any) -> str:
    """A PagerDuty event's integration key; Refused when it has none."""
    try:
        return pagerduty_routing_key(data)
    except PayloadError as exc:
        raise Refused(400, str(exc), errors=exc.errors) from exc


def check_integration(integration: Integration | None, kind: str) -> Integration:
    """The integration a key found, if it may post to the endpoint of ``kind``."""
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


def error_body(exc: Refused, *, pagerduty: bool = False) -> dict[str, Any]:
    """The JSON answer to a refused request (PagerDuty's own shape on ``/v2/enqueue``)."""
    if pagerduty:
        status_text = {429: "throttle event", 403: "forbidden", 404: "unknown routing key"}
        return {
            "status": status_text.get(exc.status, "invalid event"),
            "message": exc.message if exc.status != 400 else "Event object is invalid",
            "errors": exc.errors,
        }
    payload: dict[str, Any] = {"detail": exc.message}
    if len(exc.errors) > 1:
        payload["errors"] = exc.errors
    return payload


def accepted(kind: str, batch: Batch, delivery_id: int) -> tuple[int, dict[str, Any]]:
    """The status and JSON answer to a recorded delivery."""
    if kind == IntegrationKind.PAGERDUTY:
        return 202, {
            "status": "success",
            "message": "Event processed",
            "dedup_key": batch.dedup_key,
        }
    # Alertmanager's own API answers 200 to Prometheus; Prometheus accepts any 2xx.
    status = 200 if kind == IntegrationKind.PROMETHEUS else 202
    return status, {"status": "success", "delivery": delivery_id, "alerts": len(batch.events)}
