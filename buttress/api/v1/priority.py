"""/tickets/priority-matrix: the installation's impact x urgency -> priority matrix."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from buttress.api.v1.base import require_write, responses, staff_user
from buttress.desk.access import require_priority_admin
from buttress.desk.models import DEFAULT_MATRIX, Level, Priority
from buttress.desk.services import priority

router = Router(tags=["tickets"])

REFUSAL = "The priority matrix belongs to the agent workspace (provider staff)."


class CellOut(Schema):
    impact: Level
    urgency: Level
    priority: Priority
    default: Priority = Field(description="The built-in priority of the cell.")


class MatrixOut(Schema):
    cells: list[CellOut] = Field(description="All nine cells, impact then urgency, high first.")


class CellIn(Schema):
    impact: Level
    urgency: Level
    priority: Priority


class MatrixIn(Schema):
    cells: list[CellIn] = Field(
        description="Every one of the nine impact x urgency cells, each once.", max_length=9
    )


def _answer() -> dict[str, Any]:
    matrix = priority.priority_matrix()
    return {
        "cells": [
            {
                "impact": impact,
                "urgency": urgency,
                "priority": matrix[(impact, urgency)],
                "default": DEFAULT_MATRIX[(impact, urgency)],
            }
            for impact in Level.values
            for urgency in Level.values
        ]
    }


@router.get("/tickets/priority-matrix", response=responses(MatrixOut))
def get_matrix(request: HttpRequest) -> dict[str, Any]:
    staff_user(request, refusal=REFUSAL)
    return _answer()


@router.put("/tickets/priority-matrix", response=responses(MatrixOut))
def put_matrix(request: HttpRequest, body: MatrixIn) -> dict[str, Any]:
    """Replace the matrix. Tickets keep their priority until their impact or urgency changes."""
    require_write(request)
    user = staff_user(request, refusal=REFUSAL)
    require_priority_admin(user)
    matrix: dict[tuple[str, str], str] = {}
    for cell in body.cells:
        key = (str(cell.impact), str(cell.urgency))
        if key in matrix:
            raise ValidationError({"cells": f"The cell {key[0]} x {key[1]} is given twice."})
        matrix[key] = str(cell.priority)
    missing = [f"{i} x {u}" for i in Level.values for u in Level.values if (i, u) not in matrix]
    if missing:
        raise ValidationError({"cells": f"Give every cell; missing: {', '.join(missing)}."})
    priority.set_priority_matrix(actor=user, matrix=matrix)
    return _answer()
