"""Background work of the service desk."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.tasks import task

from buttress.desk import survey
from buttress.desk.models import Ticket


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
    link = survey.survey_url(ticket)
    body = "\n".join(
        [
            f"Hello {requester.name},",
            "",
            f'Your request {ticket.reference} "{ticket.subject}" was resolved.',
            "How did we do? Rate it from 1 to 5, with a comment if you like:",
            "",
            link,
            "",
            f"The link works for {survey.valid_days()} days.",
        ]
    )
    EmailMessage(
        f"[{ticket.reference}] How did we do?", body, settings.DEFAULT_FROM_EMAIL, [requester.email]
    ).send()
    return True
