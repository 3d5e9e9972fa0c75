"""Assertions on a JSON response body, addressed with JMESPath.

JMESPath rather than JSONPath: one specification with a compliance suite, so an expression
means the same here as in the AWS CLI or Ansible, and its library ships type information.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import jmespath
import jmespath.exceptions
import jmespath.parser

Operator = Literal["==", "!=", "<", "<=", ">", ">=", "contains", "matches", "exists", "absent"]
OPERATORS: tuple[Operator, ...] = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "matches",
    "exists",
    "absent",
)
_ORDERED = {"<", "<=", ">", ">="}


@dataclass(frozen=True)
class JsonAssertion:
    """``path`` evaluated on the body, compared with ``value`` by ``op``.

    ``exists`` and ``absent`` ignore ``value`` (JMESPath answers null for a missing key, so a
    key holding null counts as absent).
    """

    path: str
    op: Operator = "=="
    value: Any = None
    _compiled: jmespath.parser.ParsedResult = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            raise ValueError("path: a JMESPath expression is required")
        try:
            compiled = jmespath.compile(self.path)
        except jmespath.exceptions.JMESPathError as exc:
            raise ValueError(f"path: invalid JMESPath expression {self.path!r}: {exc}") from exc
        object.__setattr__(self, "_compiled", compiled)
        if self.op not in OPERATORS:
            raise ValueError(f"op: {self.op!r} is not one of {', '.join(OPERATORS)}")
        if self.op in _ORDERED and not _is_number(self.value):
            raise ValueError(f"value: {self.op} needs a number, got {self.value!r}")
        if self.op == "matches":
            if not isinstance(self.value, str):
                raise ValueError("value: matches needs a regular expression")
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"value: invalid regular expression: {exc}") from exc

    def failure(self, document: Any) -> str | None:
        """Why ``document`` does not satisfy the assertion, or None when it does."""
        actual = self._compiled.search(document)
        if _holds(self.op, actual, self.value):
            return None
        if self.op in {"exists", "absent"}:
            return f"JSON {self.path}: expected {self.op}, got {_short(actual)}"
        return f"JSON {self.path}: expected {self.op} {_short(self.value)}, got {_short(actual)}"


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _same(actual: Any, expected: Any) -> bool:
    # JSON true is not the number 1, although Python says True == 1.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    return bool(actual == expected)


def _holds(op: Operator, actual: Any, expected: Any) -> bool:
    match op:
        case "exists":
            return actual is not None
        case "absent":
            return actual is None
        case "==":
            return _same(actual, expected)
        case "!=":
            return not _same(actual, expected)
        case "contains":
            if isinstance(actual, str):
                return isinstance(expected, str) and expected in actual
            if isinstance(actual, list):
                return any(_same(item, expected) for item in actual)
            return False
        case "matches":
            return isinstance(actual, str) and re.search(expected, actual) is not None
        case _:
            if not _is_number(actual):
                return False
            if op == "<":
                return bool(actual < expected)
            if op == "<=":
                return bool(actual <= expected)
            if op == ">":
                return bool(actual > expected)
            return bool(actual >= expected)


def _short(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
