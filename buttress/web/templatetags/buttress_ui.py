from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms, template
from django.forms.boundfield import BoundField
from django.forms.widgets import Input
from django.http import QueryDict
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def html_attributes(attrs: dict[str, Any]) -> SafeString:
    """HTML attributes in the order given, as Django's widget attrs template writes them."""
    parts = []
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {escape(name)}")
        elif value is not False and value is not None:
            parts.append(f' {escape(name)}="{escape(value)}"')
    return mark_safe("".join(parts))  # noqa: S308 - every name and value is escaped


@register.simple_tag
def select(field: BoundField) -> SafeString:
    """A choice field's ``<select>``, as Django's widget would render it, in one step.

    Django renders a select through a template per option; on a list page with a few filters
    and an organisation per option that was a large share of the page's time. Flat choices
    only (no option groups), one value.
    """
    choice_field = field.field
    if not isinstance(choice_field, forms.ChoiceField) or isinstance(
        choice_field, forms.MultipleChoiceField
    ):
        msg = f"{field.name} is not a single choice field"
        raise TypeError(msg)
    widget = choice_field.widget
    attrs = {**widget.attrs, **field.build_widget_attrs({}, widget)}
    if field.auto_id and "id" not in attrs:
        attrs["id"] = field.auto_id
    value = field.value()
    selected = "" if value is None else str(value)
    options = "".join(
        f'<option value="{escape(key)}"{" selected" if str(key) == selected else ""}>'
        f"{escape(label)}</option>"
        for key, label in cast("Iterable[tuple[Any, Any]]", choice_field.choices)
    )
    return format_html(
        '<select name="{}"{}>\n{}\n</select>',
        field.html_name,
        html_attributes(attrs),
        mark_safe(options),  # noqa: S308 - each key and label is escaped above
    )


@register.simple_tag
def text_input(field: BoundField) -> SafeString:
    """A text-like field's ``<input>``, as Django's widget would render it (see ``select``)."""
    widget = field.field.widget
    if not isinstance(widget, Input) or widget.input_type in {"checkbox", "file", "radio"}:
        msg = f"{field.name} is not a text input"
        raise TypeError(msg)
    attrs = {**widget.attrs, **field.build_widget_attrs({}, widget)}
    if field.auto_id and "id" not in attrs:
        attrs["id"] = field.auto_id
    value = widget.format_value(field.value())
    return format_html(
        '<input type="{}" name="{}"{}{}>',
        widget.input_type,
        field.html_name,
        "" if value is None else format_html(' value="{}"', value),
        html_attributes(attrs),
    )


@register.simple_tag
def field_label(field: BoundField) -> SafeString:
    """The field's ``<label>`` without the label template (see ``select``)."""
    return format_html('<label for="{}">{}</label>', field.id_for_label, field.label)


@register.simple_tag
def page_query(query: QueryDict, cursor: str | None) -> str:
    """The query string of another page of a list, keeping its filters."""
    params = query.copy()
    params.pop("cursor", None)
    if cursor:
        params["cursor"] = cursor
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def audit_value(value: Any) -> str:
    """A before/after value of an audit entry, as text a person reads."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return ", ".join(audit_value(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}={audit_value(item)}" for key, item in value.items()) or "—"
    return str(value)


@register.filter
def change_rows(changes: Any) -> list[tuple[str, Any, Any]]:
    """``{field: [before, after]}`` as rows; malformed entries are shown, not hidden."""
    if not isinstance(changes, dict):
        return []
    rows = []
    for field, pair in changes.items():
        label = str(field).replace("_", " ")
        if isinstance(pair, list | tuple) and len(pair) == 2:
            rows.append((label, pair[0], pair[1]))
        else:
            rows.append((label, None, pair))
    return rows
