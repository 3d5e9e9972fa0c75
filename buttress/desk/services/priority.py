"""Impact x urgency -> priority: :data:`DEFAULT_MATRIX`, with any cell overridden by a
:class:`PriorityRule` row of the installation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.audit import services as audit
from buttress.desk.models import DEFAULT_MATRIX, Level, Priority, PriorityRule

if TYPE_CHECKING:
    from buttress.accounts.models import User


def _check_level(field: str, value: str) -> None:
    if value not in Level.values:
        raise ValidationError({field: f"Must be one of {', '.join(Level.values)}."})


def priority_for(impact: str, urgency: str) -> str:
    _check_level("impact", impact)
    _check_level("urgency", urgency)
    override = (
        PriorityRule.objects.filter(impact=impact, urgency=urgency)
        .values_list("priority", flat=True)
        .first()
    )
    return override or str(DEFAULT_MATRIX[(impact, urgency)])


def priority_matrix() -> dict[tuple[str, str], str]:
    """The whole matrix in effect: defaults with the installation's overrides applied."""
    matrix = {key: str(value) for key, value in DEFAULT_MATRIX.items()}
    for impact, urgency, priority in PriorityRule.objects.values_list(
        "impact", "urgency", "priority"
    ):
        matrix[(impact, urgency)] = priority
    return matrix


@transaction.atomic
def set_priority_rule(*, actor: User | None, impact: str, urgency: str, priority: str) -> None:
    """Override one cell. Tickets keep their priority until their impact or urgency changes."""
    _check_level("impact", impact)
    _check_level("urgency", urgency)
    if priority not in Priority.values:
        raise ValidationError({"priority": f"Must be one of {', '.join(Priority.values)}."})
    before = priority_for(impact, urgency)
    rule, _ = PriorityRule.objects.update_or_create(
        impact=impact, urgency=urgency, defaults={"priority": priority}
    )
    if before != priority:
        audit.record(
            rule,
            actor=actor,
            action="update",
            organization=None,
            changes={"priority": [before, priority]},
        )


def cell_name(impact: str, urgency: str) -> str:
    """The name of one cell in forms and error messages: ``high_medium``."""
    return f"{impact}_{urgency}"


@transaction.atomic
def set_priority_matrix(
    *, actor: User | None, matrix: Mapping[tuple[str, str], str]
) -> list[tuple[str, str]]:
    """Set the cells of ``matrix`` (``(impact, urgency) -> priority``), all or nothing; cells not
    named keep theirs. Answers the cells whose priority changed, each one audited."""
    errors: dict[str, str] = {}
    for (impact, urgency), priority in matrix.items():
        if impact not in Level.values or urgency not in Level.values:
            errors[cell_name(impact, urgency)] = (
                f"Impact and urgency must each be one of {', '.join(Level.values)}."
            )
        elif priority not in Priority.values:
            errors[cell_name(impact, urgency)] = f"Must be one of {', '.join(Priority.values)}."
    if errors:
        raise ValidationError(errors)
    current = priority_matrix()
    changed = []
    for (impact, urgency), priority in matrix.items():
        if current[(impact, urgency)] != priority:
            set_priority_rule(actor=actor, impact=impact, urgency=urgency, priority=priority)
            changed.append((impact, urgency))
    return changed
