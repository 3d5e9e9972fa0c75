"""The only place that changes tickets. Every change writes a :class:`TicketEvent` on the
ticket's timeline and an audit entry, in the same transaction as the change itself.

Split by topic: :mod:`.tickets` (create, edit, status), :mod:`.conversation` (replies, notes,
time), :mod:`.links` (assets, parent, related, incidents, merge), :mod:`.priority` (the matrix).
"""

from __future__ import annotations

from buttress.desk.services.conversation import add_reply, log_time
from buttress.desk.services.links import (
    link_asset,
    link_incident,
    merge_tickets,
    relate,
    set_parent,
    unlink_asset,
)
from buttress.desk.services.priority import priority_for, priority_matrix, set_priority_rule
from buttress.desk.services.tickets import (
    acknowledge,
    close_by_customer,
    create_ticket,
    customer_close_path,
    raise_priority,
    transition,
    update_ticket,
)

__all__ = [
    "acknowledge",
    "add_reply",
    "close_by_customer",
    "create_ticket",
    "customer_close_path",
    "link_asset",
    "link_incident",
    "log_time",
    "merge_tickets",
    "priority_for",
    "priority_matrix",
    "raise_priority",
    "relate",
    "set_parent",
    "set_priority_rule",
    "transition",
    "unlink_asset",
    "update_ticket",
]
