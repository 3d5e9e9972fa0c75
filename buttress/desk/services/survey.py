"""Recording the answers to the satisfaction survey (the links are in
:mod:`buttress.desk.survey`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.desk.models import EventKind, SurveyResponse, Ticket
from buttress.desk.services.timeline import record_event
from buttress.desk.survey import SurveyLink
from buttress.lib.timeutil import now

MAX_COMMENT = 5000


def ticket_for_link(link: SurveyLink) -> Ticket:
    ticket = (
        Ticket.objects.select_related("requester", "organization").filter(pk=link.ticket_id).first()
    )
    if ticket is None or ticket.reopened_count != link.round or ticket.resolved_at is None:
        raise ValidationError(
            "This ticket is open again; the survey will come when it is resolved."
        )
    return ticket


@transaction.atomic
def answer(link: SurveyLink, *, rating: int, comment: str = "") -> SurveyResponse:
    """Record (or, answering again, replace) the rating of the resolution ``link`` names."""
    ticket = ticket_for_link(link)
    if not 1 <= rating <= 5:
        raise ValidationError({"rating": "Rate from 1 (poor) to 5 (excellent)."})
    text = comment.replace("\x00", "").strip()
    if len(text) > MAX_COMMENT:
        raise ValidationError({"comment": f"At most {MAX_COMMENT} characters."})
    response, _ = SurveyResponse.objects.update_or_create(
        ticket=ticket,
        round=link.round,
        defaults={
            "organization_id": ticket.organization_id,
            "rating": rating,
            "comment": text,
            "contact": ticket.requester,
            "answered_at": now(),
        },
    )
    record_event(
        ticket,
        EventKind.SURVEY_ANSWERED,
        actor=None,
        detail={"rating": rating, "comment": text[:500], "round": link.round},
    )
    return response
