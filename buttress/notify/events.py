"""The desk's call into notifications: every timeline entry the desk records is handed here.

Only entries of watched kinds, and only when anybody listens at all (a subscription or an
active webhook, see :mod:`buttress.notify.listening`), cost anything: their fan-out runs once
the desk's transaction has committed, over the entries' ids, so it reads the ticket as
committed and a rolled-back change notifies nobody.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.db import transaction

from buttress.desk.models import TicketEvent
from buttress.notify import listening
from buttress.notify.services import fanout


def ticket_events_recorded(events: Iterable[TicketEvent]) -> None:
    ids = [event.pk for event in events if event.kind in fanout.WATCHED_KINDS and event.pk]
    if ids and listening.anybody():
        transaction.on_commit(partial(fanout.fan_out, ids), robust=True)
