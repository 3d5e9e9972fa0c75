"""The hook other apps connect to: ``acknowledged`` is sent with ``ticket``, ``user`` and
``at`` when somebody acknowledges a ticket (from a notification's link, the page or the API),
inside the transaction that records it, so a receiver's writes commit or roll back with it.
An escalation engine connects here to stop paging."""

from __future__ import annotations

from django.dispatch import Signal

acknowledged = Signal()
