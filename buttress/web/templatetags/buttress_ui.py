from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict

register = template.Library()


@register.simple_tag
def page_query(query: QueryDict, cursor: str | None) -> str:
    """The query string of another page of a list, keeping its filters."""
    params = query.copy()
    params.pop("cursor", None)
    if cursor:
        params["cursor"] = cursor
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def audit_value(value: Any) -> str:
    """A before/after value of an audit entry, as text a person reads."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return ", ".join(audit_value(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}={audit_value(item)}" for key, item in value.items()) or "—"
    return str(value)


@register.filter
def change_rows(changes: Any) -> list[tuple[str, Any, Any]]:
    """``{field: [before, after]}`` as rows; malformed entries are shown, not hidden."""
    if not isinstance(changes, dict):
        return []
    rows = []
    for field, pair in changes.items():
        label = str(field).replace("_", " ")
        if isinstance(pair, list | tuple) and len(pair) == 2:
            rows.append((label, pair[0], pair[1]))
        else:
            rows.append((label, None, pair))
    return rows
