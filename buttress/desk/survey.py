"""The satisfaction survey: after a ticket is resolved its requester gets a signed link to rate
it from 1 to 5 with a comment. The link needs no account and expires after
``SURVEY_VALID_DAYS``; it names the ticket and the resolution it rates, so a reopened and
resolved-again ticket is rated afresh."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse

from buttress.desk.models import Ticket

SALT = "buttress.desk.survey"


def valid_days() -> int:
    return int(getattr(settings, "SURVEY_VALID_DAYS", 30))


@dataclass(frozen=True)
class SurveyLink:
    ticket_id: int
    round: int


def make_token(ticket: Ticket) -> str:
    return signing.dumps({"t": ticket.pk, "r": ticket.reopened_count}, salt=SALT, compress=True)


def survey_url(ticket: Ticket) -> str:
    return settings.BASE_URL + reverse("desk:survey", kwargs={"token": make_token(ticket)})


def read_token(token: str) -> SurveyLink:
    """The ticket and resolution a link names; ``ValidationError`` for a bad or old link."""
    try:
        data = signing.loads(token, salt=SALT, max_age=valid_days() * 86400)
    except signing.SignatureExpired:
        raise ValidationError("This survey link has expired.") from None
    except signing.BadSignature:
        raise ValidationError("This survey link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), int):
        raise ValidationError("This survey link is not valid.")
    return SurveyLink(ticket_id=data["t"], round=int(data.get("r", 0)))
