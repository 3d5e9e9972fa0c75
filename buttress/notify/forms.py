"""Forms of the notification settings and webhook pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.core.exceptions import ValidationError

from buttress.notify.models import (
    DeskEvent,
    MethodKind,
    RequesterEvent,
    RequesterPreference,
    Scope,
    Urgency,
)
from buttress.notify.services import hooks, people, requesters
from buttress.web.forms import Form, add_service_errors

if TYPE_CHECKING:
    from django.http import QueryDict

    from buttress.accounts.models import User
    from buttress.tenancy.models import Contact


class MethodForm(Form):
    kind = forms.ChoiceField(choices=MethodKind.choices)
    label = forms.CharField(max_length=people.MAX_LABEL, help_text="e.g. Work mail, Slack")
    target = forms.CharField(
        label="Address or Apprise URL",
        max_length=people.MAX_TARGET,
        help_text="An email address, or an Apprise URL such as slack://..., tgram://..., "
        "ntfy://..., msteams://... It is stored encrypted and never shown in full again.",
    )


class ChatTargetForm(Form):
    """A customer's Apprise target for their ticket messages (the portal)."""

    label = forms.CharField(max_length=people.MAX_LABEL, help_text="e.g. My phone (ntfy)")
    target = forms.CharField(
        label="Apprise URL",
        max_length=people.MAX_TARGET,
        help_text="Such as ntfy://topic, tgram://bot-token/chat-id, slack://..., msteams://... "
        "It is stored encrypted and never shown in full again.",
    )


class RuleForm(Form):
    method = forms.TypedChoiceField(coerce=int, label="Contact method")
    delay_minutes = forms.IntegerField(
        min_value=0, max_value=people.MAX_DELAY_MINUTES, initial=0, label="Delay (minutes)"
    )
    urgency = forms.ChoiceField(choices=Urgency.choices, initial=Urgency.ALL)
    quiet_start = forms.TimeField(required=False, help_text="In your time zone, e.g. 22:00")
    quiet_end = forms.TimeField(required=False, help_text="e.g. 07:00; P1 ignores quiet hours")

    def __init__(self, *args: object, methods: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["method"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = methods


class SubscriptionForm(Form):
    events = forms.MultipleChoiceField(
        choices=DeskEvent.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.MINE)


class WebhookForm(Form):
    organization = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, help_text="Empty: every organisation."
    )
    name = forms.CharField(max_length=hooks.MAX_NAME)
    url = forms.CharField(label="URL", max_length=hooks.MAX_URL)
    events = forms.MultipleChoiceField(
        choices=list(hooks.EVENTS.items()), widget=forms.CheckboxSelectMultiple
    )
    allow_private = forms.BooleanField(
        required=False, help_text="Let it reach private and loopback addresses (staff only)."
    )

    def __init__(
        self, *args: object, organizations: list[tuple[int | str, str]], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = organizations


class RequesterMailForm(Form):
    events = forms.MultipleChoiceField(
        choices=RequesterEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Mail me when",
        help_text="Leave every box empty to get no mail about your requests.",
    )

    def __init__(self, data: QueryDict | None = None, *, contact: Contact) -> None:
        current = sorted(RequesterPreference.objects.events_for(contact.pk))
        super().__init__(data, initial={"events": current})
        self.contact = contact

    def save(self, *, actor: User | None, via: str) -> bool:
        """Store the choice of a bound form; False, with the errors on the form, when it is
        invalid or the service refuses it."""
        if not self.is_valid():
            return False
        try:
            requesters.set_requester_events(
                self.contact, events=self.cleaned_data["events"], actor=actor, via=via
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
            return False
        return True
