"""Checking a customer's answers against an item's form: one rule per field kind.

Pure (no database): the form is given as a list of field descriptions, so the portal, the
API and the tests all go through the same checks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_TEXT = 1_000
MAX_TEXTAREA = 20_000
MAX_NUMBER = Decimal(10) ** 15
# Deliberately plain: the desk mails the address only if a person reads it and decides to.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}$")
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no"})


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    kind: str
    required: bool
    choices: tuple[str, ...] = ()


class AnswerErrors(Exception):
    """Every field's problem at once, by key."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _empty(value: Any) -> bool:
    return value is None or value in ("", []) or value is False


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError("Give text.")
    if "\x00" in value:
        raise ValueError("Text may not contain NUL characters.")
    text = value.strip()
    if len(text) > limit:
        raise ValueError(f"At most {limit} characters.")
    return text


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("Give a number.")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("Give a finite number.")
        number = Decimal(str(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError("Give a number.") from exc
        if not number.is_finite():
            raise ValueError("Give a finite number.")
    else:
        raise ValueError("Give a number.")
    if abs(number) >= MAX_NUMBER:
        raise ValueError("The number is too large.")
    return int(number) if number == number.to_integral_value() else float(number)


def _date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueError("Give a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError as exc:
        raise ValueError("Give a date as YYYY-MM-DD.") from exc


def _choice(value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"Choose one of: {', '.join(choices)}.")
    return value


def _choices(value: Any, choices: Sequence[str]) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("Give a list of choices.")
    picked = [_choice(item, choices) for item in items]
    # In the form's order, each once.
    return [c for c in choices if c in picked]


def _checkbox(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError("Give true or false.")


def _email(value: Any) -> str:
    text = _text(value, 254)
    if text and not EMAIL.match(text):
        raise ValueError("Give a valid email address.")
    return text


def clean_answer(question: Question, value: Any) -> Any:
    """The stored form of one answer; raises ValueError with the message for the field."""
    kind = question.kind
    if kind == "text":
        return _text(value, MAX_TEXT)
    if kind == "textarea":
        return _text(value, MAX_TEXTAREA)
    if kind == "number":
        return _number(value)
    if kind == "date":
        return _date(value)
    if kind == "choice":
        return _choice(value, question.choices)
    if kind == "multi_choice":
        return _choices(value, question.choices)
    if kind == "checkbox":
        return _checkbox(value)
    if kind == "email":
        return _email(value)
    raise ValueError(f"Unknown field kind {kind!r}.")


def clean_answers(questions: Sequence[Question], raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every question's answer in the form's order, as ``{key, label, kind, value}``; an
    unanswered optional question is stored as None (a checkbox as False). Raises
    :class:`AnswerErrors` naming every bad or missing answer and every unknown key."""
    errors: dict[str, str] = {}
    known = {q.key for q in questions}
    for key in raw:
        if key not in known:
            errors[str(key)] = "This form has no such field."
    answers: list[dict[str, Any]] = []
    for question in questions:
        value = raw.get(question.key)
        if isinstance(value, str) and question.kind not in ("checkbox",):
            value = value if value.strip() else None
        cleaned: Any = None
        if not _empty(value):
            try:
                cleaned = clean_answer(question, value)
            except ValueError as exc:
                errors[question.key] = str(exc)
                continue
        if question.kind == "checkbox" and cleaned is None:
            cleaned = False
        if question.required and _empty(cleaned):
            errors[question.key] = (
                "Tick this box to go on."
                if question.kind == "checkbox"
                else "This field is required."
            )
            continue
        answers.append(
            {"key": question.key, "label": question.label, "kind": question.kind, "value": cleaned}
        )
    if errors:
        raise AnswerErrors(errors)
    return answers


def display(answer: Mapping[str, Any]) -> str:
    """An answer as a person reads it (in the ticket's description and on its page)."""
    value = answer.get("value")
    if value is None or value == []:
        return "—"
    if answer.get("kind") == "checkbox":
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
