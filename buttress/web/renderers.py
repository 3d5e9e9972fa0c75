"""A form renderer that writes Django's common form templates in Python.

Django renders every field of a form through several templates (the field group, the label,
the widget, its attributes, the error list, one more per ``<option>`` or radio button). A page
with a few forms spent most of its time there. :class:`FastRenderer` writes the same markup as
those templates for the field group, label, error list and the plain widgets (inputs, textarea,
select, radio and checkbox lists, the file input), character for character, and hands every
other template (a formset, a widget with its own template, a field group with one) to Django.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape

FORMS = "django/forms/"
WIDGETS = "django/forms/widgets/"
INPUT_TEMPLATES = frozenset(
    f"{WIDGETS}{name}.html"
    for name in (
        "input",
        "text",
        "number",
        "email",
        "url",
        "password",
        "hidden",
        "date",
        "datetime",
        "time",
        "checkbox",
        "color",
        "search",
        "tel",
        "file",
    )
)
OPTION_TEMPLATES = frozenset(
    f"{WIDGETS}{name}.html" for name in ("radio_option", "checkbox_option", "input_option")
)


def _text(value: Any) -> str:
    """``{{ value }}`` or ``{{ value|stringformat:'s' }}`` with autoescaping on."""
    return str(conditional_escape(value))


def _attrs(attrs: Mapping[str, Any]) -> str:
    """``django/forms/attrs.html`` and ``django/forms/widgets/attrs.html``."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_text(value)}"')
    return "".join(parts)


def _input(widget: Mapping[str, Any]) -> str:
    value = widget["value"]
    shown = "" if value is None else f' value="{_text(value)}"'
    return (
        f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"'
        f"{shown}{_attrs(widget['attrs'])}>"
    )


def _input_option(widget: Mapping[str, Any]) -> str:
    """``input_option.html`` as included by a list of radio buttons or checkboxes: each
    included template keeps its closing newline."""
    # radio_option.html and checkbox_option.html include input_option.html: one more newline.
    tail = "\n" if widget["template_name"] == f"{WIDGETS}input_option.html" else "\n\n"
    if not widget.get("wrap_label"):
        return f"{_input(widget)}\n{tail}"
    ident = widget["attrs"].get("id")
    label_for = f' for="{_text(ident)}"' if ident else ""
    return f"<label{label_for}>{_input(widget)}\n {_text(widget['label'])}</label>{tail}"


class FastRenderer(DjangoTemplates):
    """Django's template-based renderer, with its common templates written in Python."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        write = self._writers.get(template_name)
        if write is not None:
            written = write(self, context)
            if written is not None:
                return written
        return super().render(template_name, context, request)

    def _field(self, context: dict[str, Any]) -> str | None:
        field = context["field"]
        parts = []
        if field.use_fieldset:
            describedby = field.aria_describedby
            extra = f' aria-describedby="{_text(describedby)}"' if describedby else ""
            legend = str(field.legend_tag()) if field.label else ""
            parts.append(f"\n  <fieldset{extra}>\n  {legend}\n")
        else:
            parts.append(f"\n  {field.label_tag() if field.label else ''}\n")
        parts.append("\n")
        if field.help_text:
            ident = f' id="{_text(field.auto_id)}_helptext"' if field.auto_id else ""
            parts.append(f'<div class="helptext"{ident}>{field.help_text}</div>')
        errors = field.errors
        parts.append(f"\n{errors if errors else ''}\n{field}")
        if field.use_fieldset:
            parts.append("</fieldset>")
        return "".join(parts).strip()

    def _label(self, context: dict[str, Any]) -> str | None:
        label = _text(context["label"])
        if not context["use_tag"]:
            return label.strip()
        tag = _text(context["tag"])
        return f"<{tag}{_attrs(context['attrs'] or {})}>{label}</{tag}>"

    def _errors(self, context: dict[str, Any]) -> str | None:
        errors = context["errors"]
        if not errors:
            return ""
        field_id = getattr(errors, "field_id", None)
        ident = f' id="{_text(field_id)}_error"' if field_id else ""
        items = "".join(f"<li>{_text(error)}</li>" for error in errors)
        return f'<ul class="{_text(context["error_class"])}"{ident}>{items}</ul>'

    def _input_widget(self, context: dict[str, Any]) -> str | None:
        return _input(context["widget"])

    def _file_widget(self, context: dict[str, Any]) -> str | None:
        widget = context["widget"]
        if widget.get("is_initial"):
            return None
        # The file's name is never written back into the input.
        return _input({**widget, "value": None})

    def _textarea(self, context: dict[str, Any]) -> str | None:
        widget = context["widget"]
        value = widget["value"]
        return (
            f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n'
            f"{_text(value) if value else ''}</textarea>"
        )

    def _select(self, context: dict[str, Any]) -> str | None:
        widget = context["widget"]
        parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group, options, _index in widget["optgroups"]:
            if group:
                parts.append(f'\n  <optgroup label="{_text(group)}">')
            for option in options:
                if option["template_name"] != f"{WIDGETS}select_option.html":
                    return None
                parts.append(
                    f'\n  <option value="{_text(option["value"])}"{_attrs(option["attrs"])}>'
                    f"{_text(option['label'])}</option>\n"
                )
            if group:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return "".join(parts)

    def _multiple_input(self, context: dict[str, Any]) -> str | None:
        widget = context["widget"]
        attrs = widget["attrs"]
        ident, css = attrs.get("id"), attrs.get("class")
        parts = [
            f"<div{f' id="{_text(ident)}"' if ident else ''}"
            f"{f' class="{_text(css)}"' if css else ''}>"
        ]
        groups: Iterable[tuple[Any, list[dict[str, Any]], int]] = widget["optgroups"]
        for group, options, _index in groups:
            if group:
                parts.append(f"\n  <div><label>{_text(group)}</label>")
            for option in options:
                if option["template_name"] not in OPTION_TEMPLATES:
                    return None
                parts.append(f"<div>\n    {_input_option(option)}</div>")
            if group:
                parts.append("\n  </div>")
        parts.append("\n</div>")
        return "".join(parts)

    _writers: dict[str, Callable[[FastRenderer, dict[str, Any]], str | None]] = {
        f"{FORMS}field.html": _field,
        f"{FORMS}label.html": _label,
        f"{FORMS}errors/list/default.html": _errors,
        f"{FORMS}errors/list/ul.html": _errors,
        f"{WIDGETS}textarea.html": _textarea,
        f"{WIDGETS}select.html": _select,
        f"{WIDGETS}radio.html": _multiple_input,
        f"{WIDGETS}checkbox_select.html": _multiple_input,
        f"{WIDGETS}multiple_input.html": _multiple_input,
        f"{WIDGETS}clearable_file_input.html": _file_widget,
        **dict.fromkeys(INPUT_TEMPLATES, _input_widget),
    }


# One per process: the engine behind the templates it hands to Django is built once.
RENDERER = FastRenderer()
