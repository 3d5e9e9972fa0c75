import pytest
from django import forms

from buttress.web.widgets import FastSelect

CHOICES = [
    ("", "---------"),
    (1, "Ada <admin>"),
    (2, 'Quote " & ampersand'),
    ("Group", [(3, "Three"), (4, "Four")]),
    (5, "Five"),
]


def _normal(html: str) -> str:
    return " ".join(html.split()).replace("> <", "><")


@pytest.mark.parametrize("value", [None, "", 1, "2", 4, "missing", [5]])
@pytest.mark.parametrize("attrs", [None, {"id": "id_x", "required": True, "data-x": "<y>"}])
def test_fast_select_writes_what_djangos_select_writes(value, attrs):
    expected = forms.Select(choices=CHOICES).render("pick", value, attrs=attrs)

    assert _normal(FastSelect(choices=CHOICES).render("pick", value, attrs=attrs)) == _normal(
        expected
    )


def test_fast_select_marks_only_the_first_equal_value_selected():
    html = FastSelect(choices=[(1, "a"), ("1", "b")]).render("pick", 1)

    assert html.count(" selected") == 1
