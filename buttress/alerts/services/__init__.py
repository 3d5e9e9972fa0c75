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
from buttress.alerts.services.ingest import (
    Incoming,
    RateLimited,
    record_deliveries,
    record_delivery,
    take_slot,
    take_slots,
)
from buttress.alerts.services.integrations import (
    IssuedKey,
    create_integration,
    delete_integration,
    find_by_key,
    find_by_keys,
    rotate_key,
    update_integration,
    url_for,
)

__all__ = [
    "Incoming",
    "IssuedKey",
    "RateLimited",
    "create_integration",
    "delete_integration",
    "expire_alert",
    "find_by_key",
    "find_by_keys",
    "note_failure",
    "parse_for",
    "process_delivery",
    "record_deliveries",
    "record_delivery",
    "release_alert",
    "rotate_key",
    "system_actor",
    "take_slot",
    "take_slots",
    "update_integration",
    "url_for",
]
