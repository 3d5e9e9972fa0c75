"""The portal's forms: a customer opens a request and writes replies."""

from __future__ import annotations

from django import forms

from buttress.desk.models import Level, TicketType
from buttress.web.forms import Form, MultipleFileField, strip_nul

URGENCY_CHOICES = [
    (Level.LOW, "Low: it can wait"),
    (Level.MEDIUM, "Medium: it slows my work"),
    (Level.HIGH, "High: I cannot work"),
]
STATUS_FILTERS = [("open", "Open"), ("done", "Resolved or closed"), ("", "All")]


class NewRequestForm(Form):
    type = forms.ChoiceField(
        label="What is it?",
        choices=[
            (TicketType.INCIDENT, "Something is broken"),
            (TicketType.SERVICE_REQUEST, "I need something (access, equipment, a change)"),
        ],
        initial=TicketType.INCIDENT,
        widget=forms.RadioSelect,
    )
    subject = forms.CharField(label="Subject", max_length=250)
    description = forms.CharField(
        label="Details",
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What happened, what you expected, and since when.",
    )
    urgency = forms.ChoiceField(label="Urgency", choices=URGENCY_CHOICES, initial=Level.MEDIUM)
    upload = MultipleFileField(label="Attach files (screenshots, logs)", required=False)

    def clean_subject(self) -> str:
        return strip_nul(self.cleaned_data["subject"])

    def clean_description(self) -> str:
        return strip_nul(self.cleaned_data["description"])


class PortalReplyForm(Form):
    body = forms.CharField(
        label="Your reply", max_length=100_000, widget=forms.Textarea(attrs={"rows": 5})
    )
    upload = MultipleFileField(label="Attach files", required=False)

    def clean_body(self) -> str:
        return strip_nul(self.cleaned_data["body"])


class PortalFilterForm(Form):
    status = forms.ChoiceField(label="Show", choices=STATUS_FILTERS, required=False)


class CloseRequestForm(Form):
    comment = forms.CharField(
        label="Closing comment (optional)",
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent to the support team as a reply, e.g. what fixed it.",
    )

    def clean_comment(self) -> str:
        return strip_nul(self.cleaned_data["comment"])
