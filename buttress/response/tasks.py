"""Background work of incident response."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.tasks import task

from buttress.desk import mail
from buttress.desk.models import MailThread
from buttress.lib.timeutil import now
from buttress.notify.models import RequesterEvent
from buttress.notify.services import sending
from buttress.response.models import StatusUpdate


@task()
def send_status_update(update_id: int) -> bool:
    """Mail a customer-facing status update to the ticket's requester, in the ticket's thread,
    once (and to the Apprise targets they added on the portal); False for an internal update,
    one already mailed or nobody to mail."""
    if not getattr(settings, "DESK_MAIL_REQUESTERS", True):
        return False
    with transaction.atomic():
        update = (
            StatusUpdate.objects.select_for_update(of=("self",))
            .select_related("incident__ticket__requester")
            .filter(pk=update_id)
            .first()
        )
        if update is None or not update.is_customer_facing or update.mailed_at is not None:
            return False
        ticket = update.incident.ticket
        body = f"Status: {update.get_phase_display()}\n\n{update.body}"
        message = mail.thread_message(ticket, body=body, key=f"status-update-{update.pk}")
        if message is None:
            return False
        update.mailed_at = now()
        update.save(update_fields=["mailed_at"])
        # A reply to it threads back to the ticket by its Message-ID.
        MailThread.objects.remember(
            ticket, mail.thread_message_id(ticket, f"status-update-{update.pk}"), outbound=True
        )
        message.send()
        assert ticket.requester is not None  # thread_message mails only a requester
        sending.notify_requester_targets(
            ticket.requester, ticket, message, RequesterEvent.AGENT_REPLIED
        )
    return True
