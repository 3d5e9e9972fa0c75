"""The alert webhooks' batch writer: many deliveries recorded and queued in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from buttress.alerts import services, tasks
from buttress.alerts.formats import Batch, PayloadError
from buttress.alerts.models import Delivery, IntegrationKind
from buttress.alerts.receiving import Refused, accepted, check_integration, error_body


@dataclass(frozen=True)
class AlertItem:
    """A webhook whose body the transport has read and decoded."""

    key: str
    kind: str
    body: bytes
    data: Any
    content_type: str
    at: datetime


@dataclass(frozen=True)
class AlertAnswer:
    status: int
    payload: dict[str, Any]
    retry_after: int | None = None


def refusal(exc: Refused, kind: str) -> AlertAnswer:
    return AlertAnswer(
        exc.status,
        error_body(exc, pagerduty=kind == IntegrationKind.PAGERDUTY),
        exc.retry_after,
    )


def write_alerts(items: Sequence[AlertItem]) -> list[AlertAnswer]:
    """Check, record and queue a batch of webhooks; each one's answer, as the views give it.

    The integrations are found in one query, the deliveries stored in one INSERT (under the
    flood limits, counted once per integration) and their processing tasks queued in the same
    transaction, so an answered request is never lost.
    """
    found = services.find_by_keys(item.key for item in items)
    answers: list[AlertAnswer | None] = [None] * len(items)
    waiting: list[tuple[int, Batch, services.Incoming]] = []
    for index, item in enumerate(items):
        try:
            integration = check_integration(found.get(item.key.strip()), item.kind)
            generated = uuid.uuid4().hex if integration.kind == IntegrationKind.PAGERDUTY else ""
            try:
                batch = services.parse_for(
                    integration, item.data, received_at=item.at, generated_key=generated
                )
            except PayloadError as exc:
                raise Refused(400, str(exc), errors=exc.errors) from exc
        except Refused as exc:
            answers[index] = refusal(exc, item.kind)
            continue
        incoming = services.Incoming(
            integration=integration,
            body=item.body.decode("utf-8"),
            content_type=item.content_type,
            generated_key=generated if batch.dedup_key == generated else "",
            at=item.at,
        )
        waiting.append((index, batch, incoming))
    if waiting:
        with transaction.atomic():
            results = services.record_deliveries([incoming for _, _, incoming in waiting])
            tasks.enqueue_processing_many([r for r in results if isinstance(r, Delivery)])
        for (index, batch, _), result in zip(waiting, results, strict=True):
            kind = items[index].kind
            if isinstance(result, Delivery):
                status, payload = accepted(kind, batch, result.pk)
                answers[index] = AlertAnswer(status, payload)
            else:
                limited = Refused(429, str(result), retry_after=result.retry_after_seconds)
                answers[index] = refusal(limited, kind)
    return [answer for answer in answers if answer is not None]
