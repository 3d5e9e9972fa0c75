"""Shared set-up for the escalation tests."""

from __future__ import annotations

from buttress.accounts.models import Role, User
from buttress.desk import services as desk
from buttress.desk.models import Ticket
from buttress.escalation import services
from buttress.escalation.models import Escalation, EscalationPolicy
from buttress.escalation.services import StepSpec
from buttress.escalation.tasks import advance_escalation
from buttress.tenancy.models import Organization
from buttress.testing.factories import UserFactory


def staff(name: str) -> User:
    return UserFactory.create(
        email=f"{name}@provider.example", full_name=name.capitalize(), role=Role.AGENT
    )


def policy(
    organization: Organization | None,
    *steps: StepSpec,
    repeat: int = 0,
    ack_timeout: int | None = None,
) -> EscalationPolicy:
    return services.create_policy(
        organization,
        actor=None,
        name="Primary",
        steps=list(steps),
        repeat=repeat,
        ack_timeout=ack_timeout,
    )


def incident(organization: Organization, subject: str = "Database down") -> Ticket:
    return desk.create_ticket(organization, actor=None, subject=subject, source="alert")


def run_due(escalation: Escalation) -> bool:
    """Run the escalation's task with the claim it carries now, as a worker would."""
    escalation.refresh_from_db()
    assert escalation.due_at is not None
    return advance_escalation.call(escalation.pk, escalation.due_at.isoformat())
