"""Background work on mail coming in: processing stored messages and polling mailboxes."""

from __future__ import annotations

import contextlib
import logging

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.tasks import task

from buttress.desk.models import InboundMail, Mailbox
from buttress.desk.services import inbound, mailboxes
from buttress.lib.timeutil import now
from buttress.scheduler.claims import enqueue_with_claim, holding

logger = logging.getLogger(__name__)

# Stored messages a processing task takes with its own, in the same transaction.
PROCESS_BATCH = 50


@task()
def process_inbound(mail_id: int, claim: str) -> bool:
    """True when this run processed the stored message; False for a stale or duplicate run.

    Group commit: with its own message the run processes up to ``PROCESS_BATCH - 1`` others
    still waiting (stored, not yet processed, locked by nobody else) in the same transaction,
    each in its own savepoint with its own outcome; their own runs then find them done. If
    the transaction fails as a whole, the others are untouched and their runs still come.
    """
    with holding(InboundMail, mail_id, "process_due_at", claim) as mail:
        if mail is None:
            return False
        others = list(
            InboundMail.objects.select_for_update(skip_locked=True)
            .filter(process_due_at__isnull=False)
            .exclude(pk=mail.pk)
            .order_by("process_due_at", "pk")
            .values_list("pk", flat=True)[: PROCESS_BATCH - 1]
        )
        inbound.process_stored(mail)
        for pk in others:
            try:
                with transaction.atomic():
                    # Read one at a time: a stored message may be large.
                    inbound.process_stored(InboundMail.objects.get(pk=pk))
            except DatabaseError:
                # Left to its own run: one message that breaks cannot hold the others back.
                logger.exception("stored message %s is left to its own processing run", pk)
        return True


@task()
def poll_mailbox(mailbox_id: int, claim: str) -> bool:
    """Poll one mailbox and set its next poll; a failed poll is kept on the mailbox and
    tried again at the next interval."""
    with holding(Mailbox, mailbox_id, "poll_due_at", claim) as mailbox:
        if mailbox is None:
            return False
        at = now()
        # A failed poll is recorded on the mailbox as last_error.
        with contextlib.suppress(ValidationError):
            mailboxes.poll(mailbox, at=at)
        mailbox.refresh_from_db()
        mailboxes.schedule_next(mailbox, at=at)
        return True


def enqueue_processing(mail: InboundMail) -> None:
    """Queue a stored message's processing under the claim it was stored with (see
    :func:`buttress.scheduler.claims.enqueue_with_claim`)."""
    assert mail.process_due_at is not None
    enqueue_with_claim(process_inbound, mail.pk, mail.process_due_at.isoformat())
