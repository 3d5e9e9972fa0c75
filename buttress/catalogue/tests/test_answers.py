"""Checking answers against a form, one rule per field kind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buttress.catalogue.answers import AnswerErrors, Question, clean_answers, display

NAME = Question(key="name", label="Name", kind="text", required=True)
SEATS = Question(key="seats", label="Seats", kind="number", required=False)
WHEN = Question(key="when", label="Start date", kind="date", required=True)
MODEL = Question(key="model", label="Model", kind="choice", required=True, choices=("13", "15"))
EXTRAS = Question(
    key="extras", label="Extras", kind="multi_choice", required=False, choices=("dock", "bag")
)
AGREE = Question(key="agree", label="I agree", kind="checkbox", required=True)
MAIL = Question(key="mail", label="Manager", kind="email", required=False)
FORM = [NAME, SEATS, WHEN, MODEL, EXTRAS, AGREE, MAIL]
GOOD = {
    "name": " Dana ",
    "seats": "3",
    "when": "2026-12-01",
    "model": "15",
    "extras": ["bag", "dock", "bag"],
    "agree": "on",
    "mail": "boss@example.com",
}


def test_good_answers_are_stored_in_the_forms_order_and_converted():
    answers = clean_answers(FORM, GOOD)

    assert [(a["key"], a["value"]) for a in answers] == [
        ("name", "Dana"),
        ("seats", 3),
        ("when", "2026-12-01"),
        ("model", "15"),
        ("extras", ["dock", "bag"]),
        ("agree", True),
        ("mail", "boss@example.com"),
    ]


def test_every_bad_answer_is_named_at_once():
    bad = {
        **GOOD,
        "name": "",
        "seats": "three",
        "when": "tomorrow",
        "model": "17",
        "extras": ["printer"],
        "agree": False,
        "mail": "not-an-address",
        "colour": "red",
    }

    with pytest.raises(AnswerErrors) as caught:
        clean_answers(FORM, bad)

    assert set(caught.value.errors) == {
        "name",
        "seats",
        "when",
        "model",
        "extras",
        "agree",
        "mail",
        "colour",
    }
    assert caught.value.errors["name"] == "This field is required."
    assert caught.value.errors["colour"] == "This form has no such field."


def test_unanswered_optional_questions_are_kept_empty():
    answers = clean_answers(FORM, {k: GOOD[k] for k in ("name", "when", "model", "agree")})

    values = {a["key"]: a["value"] for a in answers}
    assert values["seats"] is None
    assert values["extras"] is None
    assert values["mail"] is None


def test_json_values_are_accepted_as_their_own_types():
    answers = clean_answers(
        [SEATS, AGREE, EXTRAS], {"seats": 2.5, "agree": True, "extras": ["dock"]}
    )

    assert [a["value"] for a in answers] == [2.5, True, ["dock"]]


@pytest.mark.parametrize("value", [True, "nan", "inf", 1e300, [1], {"a": 1}])
def test_a_number_field_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(AnswerErrors) as caught:
        clean_answers([SEATS], {"seats": value})

    assert "seats" in caught.value.errors


def test_text_with_nul_is_refused():
    with pytest.raises(AnswerErrors):
        clean_answers([NAME], {"name": "a\x00b"})


@given(st.text(max_size=50))
def test_any_text_is_either_stored_trimmed_or_refused_with_a_message(text):
    refused: dict[str, str] = {}
    answers: list[dict[str, object]] = []
    try:
        answers = clean_answers([NAME], {"name": text})
    except AnswerErrors as exc:
        refused = exc.errors
    if refused:
        assert set(refused) == {"name"}
    else:
        assert answers[0]["value"] == text.strip()
        assert answers[0]["value"]


def test_display_reads_like_a_person_would_write_it():
    assert display({"kind": "checkbox", "value": True}) == "yes"
    assert display({"kind": "multi_choice", "value": ["dock", "bag"]}) == "dock, bag"
    assert display({"kind": "text", "value": None}) == "—"
