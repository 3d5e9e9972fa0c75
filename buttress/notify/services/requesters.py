"""Requesters' choice of ticket mail: the only code that changes :class:`RequesterPreference`.

A requester is a contact, with or without an account: a portal user chooses on the portal,
anybody from the signed link at the foot of every mail the desk sends them (and through the
mail client's unsubscribe button, which ``List-Unsubscribe`` offers)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.audit import services as audit
from buttress.lib.timeutil import now
from buttress.notify.models import RequesterEvent, RequesterPreference
from buttress.tenancy.models import Contact

if TYPE_CHECKING:
    from buttress.accounts.models import User


@transaction.atomic
def set_requester_events(
    contact: Contact, *, events: Iterable[str], actor: User | None, via: str
) -> RequesterPreference:
    """Mail ``contact`` about ``events`` only (none: no ticket mail at all). ``via`` says
    where the choice was made (``portal``, ``link``, ``one-click``), for the audit log."""
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in RequesterEvent.values]
    if unknown:
        raise ValidationError(
            {"events": f"Unknown event {unknown[0]!r}; one of {', '.join(RequesterEvent.values)}."}
        )
    before = sorted(RequesterPreference.objects.events_for(contact.pk))
    preference, _ = RequesterPreference.objects.update_or_create(
        contact=contact,
        defaults={
            "organization_id": contact.organization_id,
            "events": chosen,
            "updated_at": now(),
        },
    )
    if before != chosen:
        audit.record(
            preference,
            actor=actor if actor is not None and actor.pk else None,
            action="update",
            organization=contact.organization,
            changes={"events": [before, chosen]},
            note=f"ticket mail chosen via {via}",
        )
    return preference


def unsubscribe(contact: Contact, *, via: str) -> RequesterPreference:
    """No more ticket mail to ``contact`` (the mail client's one-click unsubscribe)."""
    return set_requester_events(contact, events=(), actor=None, via=via)
