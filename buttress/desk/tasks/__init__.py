"""Background work of the service desk."""

from __future__ import annotations

from django.conf import settings
from django.tasks import task

from buttress.desk import mail
from buttress.desk.models import InboundMail, MailThread, Reply, Ticket


@task()
def send_survey(ticket_id: int, round: int) -> bool:
    """Mail the requester the satisfaction survey of one resolution; False when the ticket was
    reopened meanwhile, has no requester with an address, or was already rated."""
    ticket = Ticket.objects.select_related("requester").filter(pk=ticket_id).first()
    if ticket is None or ticket.reopened_count != round or ticket.resolved_at is None:
        return False
    requester = ticket.requester
    if requester is None or not requester.email:
        return False
    if ticket.survey_responses.filter(round=round).exists():
        return False
    mail.survey_message(ticket, requester).send()
    return True


def _mail_requesters() -> bool:
    return bool(getattr(settings, "DESK_MAIL_REQUESTERS", True))


@task()
def send_acknowledgement(ticket_id: int) -> bool:
    """Tell the requester their request is in; False when there is nobody to tell."""
    ticket = Ticket.objects.select_related("requester").filter(pk=ticket_id).first()
    if ticket is None or not _mail_requesters():
        return False
    message = mail.acknowledgement(ticket)
    if message is None:
        return False
    MailThread.objects.remember(ticket, mail.thread_id(ticket), outbound=True)
    message.send()
    return True


@task()
def send_reply(reply_id: int) -> bool:
    """Mail a public agent reply to the requester; False for a note or nobody to mail."""
    reply = Reply.objects.select_related("ticket__requester", "author").filter(pk=reply_id).first()
    if reply is None or not _mail_requesters():
        return False
    message = mail.reply_message(reply)
    if message is None:
        return False
    MailThread.objects.remember(reply.ticket, mail.reply_message_id(reply), outbound=True)
    message.send()
    return True


@task()
def send_over_limit_notice(inbound_id: int, files: list[str]) -> bool:
    """Tell the sender of a message which of its attachments were too large to keep."""
    received = InboundMail.objects.select_related("ticket").filter(pk=inbound_id).first()
    if received is None or received.ticket is None or not _mail_requesters():
        return False
    limit = int(getattr(settings, "DESK_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024))
    mail.over_limit_notice(
        received.ticket, to=received.sender, subject=received.subject, files=files, limit=limit
    ).send()
    return True
