"""Background work of the service desk."""

from __future__ import annotations

from django.conf import settings
from django.tasks import task

from buttress.desk import mail
from buttress.desk.models import (
    EventKind,
    InboundMail,
    MailThread,
    Reply,
    Status,
    Ticket,
    TicketEvent,
    attachment_max_bytes,
)
from buttress.notify.models import RequesterEvent, RequesterPreference
from buttress.notify.services import sending
from buttress.tenancy.models import Contact


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
    if not _wants(requester, RequesterEvent.RESOLVED):
        return False
    message = mail.survey_message(ticket, requester)
    MailThread.objects.remember(ticket, message.extra_headers["Message-ID"], outbound=True)
    message.send()
    sending.notify_requester_targets(requester, ticket, message, RequesterEvent.RESOLVED)
    return True


def _mail_requesters() -> bool:
    return bool(getattr(settings, "DESK_MAIL_REQUESTERS", True))


def _wants(requester: Contact, event: str) -> bool:
    """The requester has not turned this mail off (see docs/service-desk.md)."""
    return RequesterPreference.objects.wants(requester.pk, event)


@task()
def send_acknowledgement(ticket_id: int) -> bool:
    """Tell the requester their request is in; False when there is nobody to tell."""
    ticket = Ticket.objects.select_related("requester").filter(pk=ticket_id).first()
    if ticket is None or not _mail_requesters():
        return False
    if ticket.requester is None or not _wants(ticket.requester, RequesterEvent.RECEIVED):
        return False
    message = mail.acknowledgement(ticket)
    if message is None:
        return False
    MailThread.objects.remember(ticket, mail.thread_id(ticket), outbound=True)
    message.send()
    sending.notify_requester_targets(ticket.requester, ticket, message, RequesterEvent.RECEIVED)
    return True


@task()
def send_reply(reply_id: int) -> bool:
    """Mail a public agent reply to the requester; False for a note or nobody to mail."""
    reply = Reply.objects.select_related("ticket__requester", "author").filter(pk=reply_id).first()
    if reply is None or not _mail_requesters():
        return False
    requester = reply.ticket.requester
    if requester is None or not _wants(requester, RequesterEvent.AGENT_REPLIED):
        return False
    message = mail.reply_message(reply)
    if message is None:
        return False
    MailThread.objects.remember(reply.ticket, mail.reply_message_id(reply), outbound=True)
    message.send()
    sending.notify_requester_targets(requester, reply.ticket, message, RequesterEvent.AGENT_REPLIED)
    return True


@task()
def send_status_change(event_id: int) -> bool:
    """Tell the requester their request changed status, as the timeline entry ``event_id``
    records, if they want that kind of change mailed; False when they do not, or there is
    nobody to tell. A resolution is told by the survey mail (:func:`send_survey`)."""
    event = (
        TicketEvent.objects.select_related("ticket__requester")
        .filter(pk=event_id, kind__in=(EventKind.STATUS_CHANGED, EventKind.REOPENED))
        .first()
    )
    if event is None or not _mail_requesters():
        return False
    ticket = event.ticket
    requester = ticket.requester
    if requester is None or not requester.email:
        return False
    to = event.detail.get("to")
    if to == Status.RESOLVED:
        return False
    wanted = (
        RequesterEvent.WAITING_ON_YOU
        if to == Status.WAITING_ON_CUSTOMER and event.kind == EventKind.STATUS_CHANGED
        else RequesterEvent.STATUS_CHANGED
    )
    if not _wants(requester, wanted):
        return False
    message = mail.status_message(ticket, event, requester)
    MailThread.objects.remember(ticket, message.extra_headers["Message-ID"], outbound=True)
    message.send()
    sending.notify_requester_targets(requester, ticket, message, wanted)
    return True


@task()
def send_over_limit_notice(inbound_id: int, files: list[str]) -> bool:
    """Tell the sender of a message which of its attachments were too large to keep."""
    received = InboundMail.objects.select_related("ticket").filter(pk=inbound_id).first()
    if received is None or received.ticket is None or not _mail_requesters():
        return False
    mail.over_limit_notice(
        received.ticket,
        to=received.sender,
        subject=received.subject,
        files=files,
        limit=attachment_max_bytes(),
    ).send()
    return True
