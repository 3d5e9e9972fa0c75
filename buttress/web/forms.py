"""Form helpers shared by every app's views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import ModelChoiceIterator

from buttress.web.renderers import RENDERER


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names, else at the top."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for field, errors in exc.error_dict.items():
        for error in errors:
            for message in error.messages:
                if field in form.fields:
                    form.add_error(field, message)
                elif field == NON_FIELD_ERRORS:
                    form.add_error(None, message)
                else:
                    form.add_error(None, f"{field.replace('_', ' ').capitalize()}: {message}")


class ListedChoiceIterator(ModelChoiceIterator):  # type: ignore[type-arg]
    """The choices read with one ordinary query.

    Django reads a choice field's rows with ``QuerySet.iterator()``, which on PostgreSQL opens
    a server-side cursor (declare, fetch, close: three round trips) for what is a list of a
    few dozen people, teams or assets. The rows stay cached on the form's own queryset, so a
    field rendered twice reads them once.
    """

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class ModelChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Django's field, its choices read by :class:`ListedChoiceIterator`."""

    iterator = ListedChoiceIterator


# The widest id a row can have (a signed 64-bit key).
MAX_ID = 2**63 - 1


class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    """Django's field, but an id too large for the database is an invalid choice.

    Django looks the ticked ids up with ``pk__in``, and SQLite cannot bind an integer past
    64 bits: a tampered ``99999999999999999999`` would be a server error instead of a form error.
    """

    def _check_values(self, value: Any) -> Any:
        for pk in value:
            try:
                number = int(str(pk).strip())
            except ValueError:
                continue  # Django reports it as an invalid value
            if not -MAX_ID - 1 <= number <= MAX_ID:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        # Private in Django (the hook its own clean() calls) and so absent from the stubs.
        return super()._check_values(value)  # type: ignore[misc]


class OrganizationSwitchForm(forms.Form):
    organization = forms.CharField(required=False)
    next = forms.CharField(required=False)


class Form(forms.Form):
    """The base of buttress's forms: labels without Django's trailing colon, rendered by
    :class:`~buttress.web.renderers.FastRenderer`."""

    default_renderer = RENDERER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def strip_nul(value: str) -> str:
    """Free text with NUL characters dropped (they cannot be stored, and mean nothing)."""
    return value.replace("\x00", "")


def refuse_nul(text: str) -> str:
    """Structured text (times, names that must round-trip) refused if it holds a NUL."""
    if "\x00" in text:
        raise ValidationError("The text holds a NUL character.")
    return text


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files from one ``<input type=file multiple>``, as a list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []
