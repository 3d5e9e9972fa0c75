"""Form widgets that write their HTML in Python.

Django renders a ``<select>`` through one template per option: a list of a few dozen people or
assets costs milliseconds per field, on pages that show several such fields. ``FastSelect``
writes the same markup as Django's ``select.html`` directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from buttress.web.templatetags.buttress_ui import html_attributes


class FastSelect(forms.Select):
    """A single-choice ``<select>`` (option groups included), rendered without templates."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, attrs)
        wanted = set(self.format_value(value))
        chosen = False

        def option(key: Any, label: Any) -> str:
            nonlocal chosen
            text = "" if key is None else str(key)
            selected = not chosen and text in wanted
            chosen = chosen or selected
            mark = " selected" if selected else ""
            return f'<option value="{escape(text)}"{mark}>{escape(label)}</option>'

        parts = []
        for key, label in self.choices:
            if isinstance(label, list | tuple):
                group: Iterable[tuple[Any, Any]] = label
                inner = "".join(option(k, v) for k, v in group)
                parts.append(f'<optgroup label="{escape(key)}">{inner}</optgroup>')
            else:
                parts.append(option(key, label))
        options = "\n  ".join(parts)
        # Every name, value and label is escaped above.
        return mark_safe(  # noqa: S308
            f'<select name="{escape(name)}"{html_attributes(final_attrs)}>\n  {options}\n</select>'
        )
