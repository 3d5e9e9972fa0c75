"""The only code that changes alert integrations, deliveries, alerts and their groups.

Split by topic: :mod:`.integrations` (integrations and their keys), :mod:`.ingest` (recording
requests under the flood limit), :mod:`.incidents` (alerts into incident tickets).
"""

from __future__ import annotations

from buttress.alerts.services.incidents import (
    expire_alert,
    note_failure,
    parse_for,
    process_delivery,
    release_alert,
    system_actor,
)
from buttress.alerts.services.ingest import RateLimited, record_delivery, take_slot
from buttress.alerts.services.integrations import (
    IssuedKey,
    create_integration,
    delete_integration,
    find_by_key,
    rotate_key,
    update_integration,
    url_for,
)

__all__ = [
    "IssuedKey",
    "RateLimited",
    "create_integration",
    "delete_integration",
    "expire_alert",
    "find_by_key",
    "note_failure",
    "parse_for",
    "process_delivery",
    "record_delivery",
    "release_alert",
    "rotate_key",
    "system_actor",
    "take_slot",
    "update_integration",
    "url_for",
]
