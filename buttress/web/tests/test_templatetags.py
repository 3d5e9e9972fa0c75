from django import forms

from buttress.web.templatetags.buttress_ui import select, text_input


class PickForm(forms.Form):
    pick = forms.ChoiceField(required=False, choices=[("", "Any"), ("a", "<A>"), ("b", "B & co")])


def test_select_marks_the_chosen_option_and_escapes_labels():
    html = select(PickForm({"pick": "b"})["pick"])

    assert html.startswith('<select name="pick" id="id_pick">')
    assert '<option value="b" selected>B &amp; co</option>' in html
    assert '<option value="a">&lt;A&gt;</option>' in html
    assert '<option value="">Any</option>' in html


def test_select_without_a_value_selects_the_empty_choice():
    html = select(PickForm({})["pick"])

    assert '<option value="" selected>Any</option>' in html


def test_select_of_an_invalid_choice_points_to_its_error():
    form = PickForm({"pick": "zzz"})
    form.is_valid()

    html = select(form["pick"])

    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_pick_error"' in html


class SearchForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=20, widget=forms.TextInput(attrs={"type": "search"})
    )


def test_text_input_renders_like_the_widget():
    for data in ({"q": 'a "quoted" <b>'}, {}):
        field = SearchForm(data)["q"]

        assert text_input(field) == str(field)


def test_text_input_of_an_invalid_value_points_to_its_error():
    form = SearchForm({"q": "x" * 21})
    form.is_valid()

    html = text_input(form["q"])

    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_q_error"' in html
