"""Keyset (cursor) pagination.

Offsets get slower the deeper one pages and skip or repeat rows when others insert; a keyset
cursor names the last row seen, so every page costs one index range scan. The ordering must end
with a unique column (``id``) and its columns must not be NULL.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Model, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.lookups import Lookup

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class Page[M: Model]:
    items: list[M]
    next_cursor: str | None
    prev_cursor: str | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "dt" in value:
        try:
            return datetime.fromisoformat(str(value["dt"]))
        except ValueError as exc:
            raise InvalidCursor("The cursor is not valid.") from exc
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidCursor("The cursor is not valid.")


def encode_cursor(values: Sequence[Any], *, backwards: bool = False) -> str:
    payload = {"v": [_encode_value(v) for v in values], "b": backwards}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, width: int) -> tuple[list[Any], bool]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is not valid.") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("v"), list):
        raise InvalidCursor("The cursor is not valid.")
    values = [_decode_value(v) for v in payload["v"]]
    if len(values) != width:
        raise InvalidCursor("The cursor does not match this list's ordering.")
    return values, bool(payload.get("b"))


def _after(order: Sequence[str], values: Sequence[Any], *, reverse: bool) -> Q | Lookup[Any]:
    """Rows strictly after ``values`` in ``order`` (or before, when ``reverse``)."""
    if len(order) > 1 and len({field.startswith("-") for field in order}) == 1:
        # One direction: a row comparison, ``(a, b) > (x, y)``, which the database reads as
        # the start of a range of an index in this order, and stops after one page.
        descending = order[0].startswith("-") != reverse
        lookup = TupleLessThan if descending else TupleGreaterThan
        return lookup(Tuple(*(F(field.lstrip("-")) for field in order)), tuple(values))
    condition = Q()
    for i, field in enumerate(order):
        name = field.lstrip("-")
        descending = field.startswith("-") != reverse
        step = Q(**{f"{name}__{'lt' if descending else 'gt'}": values[i]})
        for j in range(i):
            step &= Q(**{order[j].lstrip("-"): values[j]})
        condition |= step
    if len(order) > 1:
        # Implied by the condition above, but a bound on the leading column the database can
        # use as an index range: a deep page starts where the cursor is instead of filtering
        # every row before it.
        first = order[0].lstrip("-")
        descending = order[0].startswith("-") != reverse
        condition &= Q(**{f"{first}__{'lte' if descending else 'gte'}": values[0]})
    return condition


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise InvalidCursor("limit must be at least 1.")
    return min(limit, MAX_LIMIT)


def paginate[M: Model](
    queryset: QuerySet[M],
    *,
    order: Sequence[str] = ("name", "id"),
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[M]:
    size = clamp_limit(limit)
    fields = [f.lstrip("-") for f in order]
    backwards = False
    qs = queryset
    if cursor:
        values, backwards = decode_cursor(cursor, width=len(order))
        qs = qs.filter(_after(order, values, reverse=backwards))
    ordering = [_flip(f) for f in order] if backwards else list(order)
    rows = list(qs.order_by(*ordering)[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return Page(items=[], next_cursor=None, prev_cursor=None)

    def key(row: M) -> list[Any]:
        return [getattr(row, f) for f in fields]

    more_after = has_more if not backwards else True
    more_before = (cursor is not None) if not backwards else has_more
    return Page(
        items=rows,
        next_cursor=encode_cursor(key(rows[-1])) if more_after else None,
        prev_cursor=encode_cursor(key(rows[0]), backwards=True) if more_before else None,
    )


def _flip(field: str) -> str:
    return field[1:] if field.startswith("-") else f"-{field}"
