"""Valid configuration for tests to start from and change one thing at a time."""

from __future__ import annotations

from typing import Any

from buttress.accounts.models import User
from buttress.sla import services
from buttress.sla.models import Calendar, SlaPolicy
from buttress.tenancy.models import Organization

OFFICE = {str(day): [["09:00", "12:00"], ["13:00", "17:00"]] for day in range(5)}


def targets(first: int = 30, nxt: int = 60, resolution: int = 240) -> dict[str, Any]:
    row = {"first_response": first, "next_response": nxt, "resolution": resolution}
    return {p: dict(row) for p in ("P1", "P2", "P3", "P4")}


def make_calendar(
    actor: User | None = None, organization: Organization | None = None, **fields: Any
) -> Calendar:
    values: dict[str, Any] = {"name": "Office", "timezone": "Europe/Berlin", "weekly": OFFICE}
    values.update(fields)
    return services.create_calendar(actor=actor, organization=organization, **values)


def make_policy(
    actor: User | None = None,
    organization: Organization | None = None,
    calendar: Calendar | None = None,
    **fields: Any,
) -> SlaPolicy:
    values: dict[str, Any] = {"name": "Standard", "targets": targets()}
    values.update(fields)
    return services.create_policy(
        actor=actor,
        organization=organization,
        calendar=calendar or make_calendar(actor, organization),
        **values,
    )
