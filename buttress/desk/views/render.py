"""HTML for the workspace's long lists (queue rows, timeline entries), written in Python.

A queue page shows 50 rows and a ticket page up to 500 timeline entries. Through the template
engine every row costs dozens of variable lookups, filters and includes, which was most of
those pages' CPU; these functions write the same markup directly. Every value from the
database goes through ``escape``; only the snippets (built and escaped by
:mod:`buttress.desk.search`) and links this module builds are trusted as HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape as _escape
from typing import Any

from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import normalize_newlines
from django.utils.timesince import TIME_STRINGS, timesince, timeuntil
from django.utils.timezone import localtime

from buttress.desk.models import EventKind, SlaState, Status, Ticket, TicketType
from buttress.web.templatetags.buttress_ui import audit_value

STATUS_LABELS = dict(Status.choices)
TYPE_LABELS = dict(TicketType.choices)
SLA_LABELS = dict(SlaState.choices)
# A number no ticket has, replaced in a reversed URL: one reverse() per page, not per row.
_PLACEHOLDER = 987654321


def escape(value: Any) -> str:
    """What ``django.utils.html.escape`` answers, without its lazy-string wrapper per call."""
    return _escape(str(value))


class _Unit:
    """One unit of ``timesince``'s words ("%(num)d hours"), each count formatted once per
    page in the active language: the lazy translation is the costly part of ``timesince``."""

    def __init__(self, lazy: Any) -> None:
        self.lazy = lazy
        self.done: dict[int, str] = {}

    def __mod__(self, params: dict[str, int]) -> str:
        num = params["num"]
        if num not in self.done:
            self.done[num] = str(self.lazy % params)
        return self.done[num]


def _time_strings() -> dict[str, Any]:
    return {name: _Unit(lazy) for name, lazy in TIME_STRINGS.items()}


class UrlPattern:
    """``reverse(name, args=[pk])`` for many primary keys at the cost of one reverse()."""

    def __init__(self, name: str) -> None:
        self.head, self.tail = reverse(name, args=[_PLACEHOLDER]).split(str(_PLACEHOLDER), 1)

    def __call__(self, pk: int) -> str:
        return f"{self.head}{int(pk)}{self.tail}"


def local_texts(value: datetime) -> tuple[str, str]:
    """What the ``date:'c'`` and ``date:'Y-m-d H:i'`` filters print, in the current zone."""
    at = localtime(value)
    return at.isoformat(), at.strftime("%Y-%m-%d %H:%M")


def linebreaksbr(text: str) -> str:
    """The ``linebreaksbr`` filter on plain text."""
    return escape(normalize_newlines(text)).replace("\n", "<br>")


def _sla_badge(ticket: Ticket, now: datetime, words: dict[str, Any]) -> str:
    state = ticket.sla_state
    if not state:
        return '<span class="muted">—</span>'
    html = f'<span class="sla sla--{escape(state)}">{escape(SLA_LABELS.get(state, state))}</span>'
    due = ticket.sla_due_at
    if due is None:
        return html
    at = localtime(due)
    if state == SlaState.BREACHED:
        left = f"{escape(timesince(due, now, time_strings=words))} late"
    else:
        left = f"due in {escape(timeuntil(due, now, time_strings=words))}"
    return (
        f'{html}<br><time class="muted" datetime="{at.isoformat()}" '
        f'title="{at.strftime("%Y-%m-%d %H:%M")} {escape(at.tzname() or "")}">{left}</time>'
    )


def queue_rows(
    tickets: Sequence[Ticket], *, show_org: bool, selectable: bool, now: datetime
) -> SafeString:
    """The ``<tr>`` of each ticket of a queue page (see ``desk/list.html``)."""
    detail = UrlPattern("desk:detail")
    words = _time_strings()
    rows = []
    for ticket in tickets:
        pk = int(ticket.pk)
        reference = escape(ticket.reference)
        cells = ["<tr data-ticket-row>"]
        if selectable:
            cells.append(
                f'<td><input type="checkbox" name="ticket" value="{pk}" id="pick-{pk}" '
                f'aria-label="Select {reference}"></td>'
            )
        cells.append(
            f'<th scope="row"><a href="{detail(pk)}" data-ticket-link>{reference}</a></th>'
        )
        subject = [escape(ticket.subject)]
        # Built by search.snippets(), which escapes the ticket's text and adds only <mark>.
        if snippet := getattr(ticket, "snippet", ""):
            subject.append(f'<br><span class="muted snippet">{snippet}</span>')
        if ticket.requester is not None:
            subject.append(f'<br><span class="muted">{escape(ticket.requester.name)}</span>')
        subject.extend(f' <span class="tag">{escape(tag)}</span>' for tag in ticket.tags or ())
        cells.append(f"<td>{''.join(subject)}</td>")
        if show_org:
            cells.append(f"<td>{escape(ticket.organization.name)}</td>")
        status, priority = ticket.status, ticket.priority
        cells.append(
            f'<td><span class="status status--{escape(status)}">'
            f"{escape(STATUS_LABELS.get(status, status))}</span></td>"
            f'<td><span class="prio prio--{escape(priority)}">{escape(priority)}</span></td>'
            f"<td>{_sla_badge(ticket, now, words)}</td>"
            f"<td>{escape(TYPE_LABELS.get(ticket.type, ticket.type))}</td>"
            f"<td>{escape(ticket.team.name) if ticket.team and ticket.team.name else '—'}</td>"
        )
        if ticket.assignee is not None:
            cells.append(f"<td>{escape(ticket.assignee.display_name)}</td>")
        else:
            cells.append('<td><span class="muted">Unassigned</span></td>')
        iso, text = local_texts(ticket.updated_at)
        cells.append(f'<td><time datetime="{iso}">{text}</time></td></tr>')
        rows.append("".join(cells))
    # Every value above is escaped; the markup is this function's own.
    return mark_safe("\n".join(rows))  # noqa: S308


def options(choices: Iterable[tuple[Any, Any]], *, skip_empty: bool = False) -> SafeString:
    """``<option>`` elements for ``choices``; ``skip_empty`` leaves out an empty value."""
    return mark_safe(  # noqa: S308 - each value and label is escaped
        "".join(
            f'<option value="{escape(value)}">{escape(label)}</option>'
            for value, label in choices
            if not (skip_empty and (value is None or str(value) == ""))
        )
    )


def _files(files: Sequence[Any]) -> str:
    """``desk/_files.html``."""
    if not files:
        return ""
    url = UrlPattern("desk:attachment")
    items = "".join(
        f'<li><a href="{url(f.pk)}">{escape(f.filename)}</a> '
        f'<span class="muted">{escape(filesizeformat(f.size))}</span></li>'
        for f in files
    )
    return f'<ul class="files">{items}</ul>'


def _entry_body(entry: dict[str, Any], attachment: UrlPattern) -> str:
    event = entry["event"]
    kind = event.kind
    detail = entry["detail"]
    if "reply" in entry:
        body = f'<div class="body-text">{linebreaksbr(entry["reply"].body)}</div>'
        return body + (_files(entry["files"]) if entry.get("files") else "")
    if kind in (EventKind.STATUS_CHANGED, EventKind.REOPENED):
        why = " (the customer replied)" if detail.get("reason") == "customer_replied" else ""
        return f"<p>{escape(entry.get('from', ''))} → {escape(entry.get('to', ''))}{why}</p>"
    if kind == EventKind.RELATED and detail.get("reason") == "follow_up":
        reference = escape(detail.get("reference", ""))
        return f"<p>Follow-up of closed {reference}: mail arrived after it was closed</p>"
    if kind == EventKind.RELATED and detail.get("reason") == "followed_up":
        reference = escape(detail.get("reference", ""))
        return f"<p>Mail to this closed ticket opened follow-up {reference}</p>"
    if entry.get("sla"):
        return f"<p>{escape(entry['sla'])}</p>"
    if kind == EventKind.ATTACHED and not detail.get("reply"):
        files = detail.get("files")
        links = ", ".join(
            f'<a href="{attachment(f["id"])}">{escape(f.get("name", ""))}</a> '
            f"({escape(filesizeformat(f.get('size') or 0))})"
            for f in (files if isinstance(files, list) else [])
            if isinstance(f, dict) and isinstance(f.get("id"), int)
        )
        return f"<p>{links}</p>"
    if kind == EventKind.SURVEY_ANSWERED:
        comment = detail.get("comment")
        extra = f": {escape(comment)}" if comment else ""
        return f"<p>{escape(detail.get('rating', ''))} out of 5{extra}</p>"
    if "field" in detail:
        field = str(detail["field"])
        label = field[:1].upper() + field[1:]
        before, after = audit_value(entry.get("before")), audit_value(entry.get("after"))
        return f"<p>{escape(label)}: {escape(before)} → {escape(after)}</p>"
    if kind == EventKind.ESCALATION:
        return f"<p>{escape(detail.get('summary', ''))}</p>"
    if kind == EventKind.TIME_LOGGED:
        billable = ", billable" if detail.get("billable") else ""
        return (
            f"<p>{escape(detail.get('minutes', ''))} min, "
            f"{escape(detail.get('activity', ''))}{billable}</p>"
        )
    if kind in (EventKind.ASSET_LINKED, EventKind.ASSET_UNLINKED):
        return f"<p>{escape(detail.get('name', ''))}</p>"
    return ""


def timeline_entries(entries: Sequence[dict[str, Any]]) -> SafeString:
    """The ``<li>`` of each timeline entry of the ticket page (see ``desk/detail.html``)."""
    if not entries:
        return mark_safe('<li class="muted">Nothing has happened yet.</li>')
    attachment = UrlPattern("desk:attachment")
    items = []
    for entry in entries:
        event = entry["event"]
        kind = escape(event.kind)
        internal = " timeline__item--internal" if event.is_internal else ""
        label = (
            '<span class="badge">Internal note</span>'
            if event.kind == EventKind.NOTE_ADDED
            else escape(entry["label"])
        )
        items.append(
            f'<li class="timeline__item timeline__item--{kind}{internal}">'
            f'<p class="timeline__meta"><strong>{escape(entry["who"])}</strong> {label} · '
            f'<time datetime="{entry["at_iso"]}">{entry["at_text"]}</time></p>'
            f"{_entry_body(entry, attachment)}</li>"
        )
    # Every value is escaped above; the markup is this function's own.
    return mark_safe("\n".join(items))  # noqa: S308
