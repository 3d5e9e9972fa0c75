"""FastRenderer writes what Django's form templates write, character for character."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.forms.renderers import BaseRenderer, DjangoTemplates

from buttress.desk.forms import ReplyForm, TimeEntryForm, TransitionForm
from buttress.web.forms import MultipleFileField
from buttress.web.renderers import FastRenderer


class Everything(forms.Form):
    name = forms.CharField(label="Name <b>", max_length=20, help_text="Say <i>it</i>.")
    count = forms.IntegerField(min_value=1)
    when = forms.DateField(required=False)
    ok = forms.BooleanField(required=False, initial=True)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    kind = forms.ChoiceField(choices=[("a", "A & a"), ("b", "B")])
    grouped = forms.ChoiceField(choices=[("Group <1>", [("x", "X")]), ("y", "Y")])
    radio = forms.ChoiceField(choices=[("1", "One"), ("2", "Two")], widget=forms.RadioSelect)
    boxes = forms.MultipleChoiceField(
        choices=[("1", "One"), ("2", "Two")],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "ticks"}),
        required=False,
    )
    many = forms.MultipleChoiceField(choices=[("1", "One"), ("2", "Two")], required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    upload = MultipleFileField(required=False)
    unlabelled = forms.CharField(label="", required=False)
    split = forms.SplitDateTimeField(required=False)


BAD = {
    "name": "x<y" * 9,
    "count": "0",
    "kind": "zz",
    "radio": "2",
    "boxes": ["1"],
    "ok": "on",
    "notes": 'a<b & "c"',
    "many": ["2"],
    "split_0": "nope",
}


def render_all(form_class: type[forms.Form], data: Any, renderer: BaseRenderer) -> list[str]:
    form = form_class(data, renderer=renderer)
    if data is not None:
        form.is_valid()
        form.add_error(None, "Something <wrong> for the whole form.")
    parts = [str(form.as_div()), str(form.as_p()), str(form.as_table()), str(form.as_ul())]
    parts.extend(str(field.as_field_group()) for field in form)
    parts.extend(str(field.label_tag()) for field in form)
    parts.append(str(form.non_field_errors()))
    return parts


@pytest.mark.parametrize("data", [None, BAD], ids=["unbound", "with-errors"])
@pytest.mark.parametrize("form_class", [Everything, ReplyForm, TimeEntryForm, TransitionForm])
def test_fast_renderer_writes_what_the_templates_write(
    form_class: type[forms.Form], data: Any
) -> None:
    written = render_all(form_class, data, FastRenderer())
    assert written == render_all(form_class, data, DjangoTemplates())
    assert any("<" in part for part in written)


def test_fast_renderer_escapes_values() -> None:
    form = Everything(
        {"name": '"><script>', "count": "1", "kind": "a", "radio": "1"}, renderer=FastRenderer()
    )
    html = str(form["name"].as_widget()) + str(form.as_div())
    assert "<script>" not in html
    assert "&quot;&gt;&lt;script&gt;" in html


def test_a_widget_with_its_own_template_is_left_to_django() -> None:
    class Own(forms.TextInput):
        template_name = "django/forms/widgets/textarea.html"

    class OwnForm(forms.Form):
        text = forms.CharField(widget=Own)

    fast = OwnForm({"text": "hi"}, renderer=FastRenderer())
    assert str(fast["text"]) == str(OwnForm({"text": "hi"}, renderer=DjangoTemplates())["text"])
    assert str(fast["text"]).startswith("<textarea")
