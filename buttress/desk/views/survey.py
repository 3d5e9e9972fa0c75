"""The satisfaction survey page: reached from a signed link, no account needed."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect

from buttress.desk import survey as links
from buttress.desk.services import survey
from buttress.web.forms import Form, add_service_errors

RATINGS = [
    ("5", "5 - excellent"),
    ("4", "4 - good"),
    ("3", "3 - fair"),
    ("2", "2 - poor"),
    ("1", "1 - very poor"),
]


class SurveyForm(Form):
    rating = forms.TypedChoiceField(
        label="How did we do?", choices=RATINGS, coerce=int, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label="Anything to add?",
        required=False,
        max_length=survey.MAX_COMMENT,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


@csrf_protect
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        link = links.read_token(token)
        ticket = survey.ticket_for_link(link)
    except ValidationError as exc:
        return render(request, "desk/survey.html", {"problem": " ".join(exc.messages)}, status=400)
    form = SurveyForm(request.POST or None)
    done = None
    if request.method == "POST" and form.is_valid():
        try:
            done = survey.answer(
                link, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(
        request,
        "desk/survey.html",
        {"ticket": ticket, "form": form, "done": done},
        status=400 if form.errors else 200,
    )
