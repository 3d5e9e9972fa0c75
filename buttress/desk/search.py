"""Full-text search over tickets, their public replies and (for provider staff) internal notes.

Each ticket has one :class:`TicketSearchDocument` that the desk services rewrite, in the
transaction of the change, whenever the subject or description changes or a reply is added.
What the database does with it differs, and only this module knows:

* PostgreSQL: two ``tsvector`` columns with GIN indexes, ``public_vector`` (subject weighted
  A, description B, public replies C) and ``staff_vector`` (the same plus internal notes, C).
  User text becomes a query through ``websearch_to_tsquery``, which never raises on syntax.
* SQLite: an FTS5 table over the document table, kept in step by triggers (migration 0002).
  User text is cut into words, each quoted, the last one a prefix; customers' queries are
  restricted to the public columns with an FTS5 column filter.

Either way the caller's queryset (always :func:`buttress.desk.access.tickets_for`) is narrowed,
so search never widens what a user sees; ``include_internal`` must be False for customers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Q,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Concat, Substr

from buttress.desk.models import Reply, Ticket, TicketQuerySet, TicketSearchDocument
from buttress.lib.pagination import InvalidCursor, Page, decode_cursor, paginate
from buttress.lib.timeutil import now
from buttress.tenancy.access import organizations_for, sees_all_organizations

if TYPE_CHECKING:
    from buttress.accounts.models import User

PG_CONFIG = "english"
FTS_TABLE = "desk_ticket_fts"
# Each indexed part (description, replies, notes) is cut here: a PostgreSQL tsvector may not
# exceed 1 MB, and text past this point adds little to a match.
MAX_PART = 100_000
# Longer queries are cut: no one types more, and the work grows with every term.
MAX_QUERY = 1_000
MAX_TERMS = 32
# Ranks are scaled to integers so that a cursor compares them exactly.
RANK_SCALE = 1_000_000.0
# Ranking reads each match's document, so a word found in a large share of all tickets would
# cost a read of most of the table. Only the newest matches, up to this many (five pages of
# 50), are ranked: a search that matches more shows the best of the newest, and one that
# matches fewer ranks every match (see docs/service-desk.md, Search).
SEARCH_CANDIDATES = 250
# The first window of ticket ids in which the newest matches are looked for (see
# _newest_matches); later windows grow with the share of tickets that match.
SEARCH_WINDOW = 4_000
# At most this many windows, then the rest of the table at once.
SEARCH_WINDOWS = 3
# The order of search results, for keyset pagination: best first, then newest.
SEARCH_ORDER = ("-search_rank", "-id")
SNIPPET_WORDS = 16
# Private-use characters mark matches inside snippets until they are HTML-escaped.
MARK_START = "\ue000"
MARK_END = "\ue001"
_STRIP_MARKS = {ord(MARK_START): None, ord(MARK_END): None}
_WORD = re.compile(r"\w+")
PUBLIC_COLUMNS = ("subject", "description", "public_text")
STAFF_COLUMNS = (*PUBLIC_COLUMNS, "internal_text")
DOCUMENT_TEXT = STAFF_COLUMNS
# FTS5 bm25() column weights, in STAFF_COLUMNS order: a subject match counts most.
FTS_WEIGHTS = "10.0, 4.0, 1.0, 1.0"


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _clip(text: str) -> str:
    return text.translate(_STRIP_MARKS)[:MAX_PART]


def _join(bodies: Iterable[str]) -> str:
    return _clip("\n\n".join(bodies))


def index_ticket(ticket: Ticket) -> None:
    """Rewrite the ticket's search document; call in the transaction of the change."""
    public: list[str] = []
    internal: list[str] = []
    for body, is_internal in (
        Reply.objects.filter(ticket_id=ticket.pk)
        .order_by("created_at", "id")
        .values_list("body", "is_internal")
    ):
        (internal if is_internal else public).append(body)
    # One INSERT ... ON CONFLICT DO UPDATE: no read of the old document, no savepoint.
    TicketSearchDocument.objects.bulk_create(
        [
            TicketSearchDocument(
                ticket_id=ticket.pk,
                organization_id=ticket.organization_id,
                subject=_clip(ticket.subject),
                description=_clip(ticket.description),
                public_text=_join(public),
                internal_text=_join(internal),
                indexed_at=now(),
            )
        ],
        update_conflicts=True,
        unique_fields=["ticket"],
        update_fields=[*DOCUMENT_TEXT, "organization", "indexed_at"],
    )
    _vectorise(ticket.pk)


def _vectorise(ticket_id: int) -> None:
    """PostgreSQL: fill the document's two vectors from its text columns."""
    if _is_postgresql():
        public_vector = (
            SearchVector("subject", weight="A", config=PG_CONFIG)
            + SearchVector("description", weight="B", config=PG_CONFIG)
            + SearchVector("public_text", weight="C", config=PG_CONFIG)
        )
        TicketSearchDocument.objects.filter(pk=ticket_id).update(
            public_vector=public_vector,
            staff_vector=public_vector
            + SearchVector("internal_text", weight="C", config=PG_CONFIG),
        )


def index_reply(ticket: Ticket, reply: Reply) -> None:
    """Add a new reply (or note) to the ticket's search document; call in the transaction
    that created it.

    The document ends up exactly as :func:`index_ticket` would write it, without reading
    every earlier reply back: the reply's text is appended in the database to the part it
    belongs to (with the separator when the part had a reply before, cut at
    :data:`MAX_PART`). That holds only when the reply is the last of the conversation
    order; otherwise, or without a document, the whole document is rewritten.
    """
    column = "internal_text" if reply.is_internal else "public_text"
    earlier = Reply.objects.filter(ticket_id=ticket.pk, is_internal=reply.is_internal).exclude(
        pk=reply.pk
    )
    later = Reply.objects.filter(ticket_id=ticket.pk).filter(
        Q(created_at__gt=reply.created_at) | Q(created_at=reply.created_at, pk__gt=reply.pk)
    )
    separator = Case(When(Exists(earlier), then=Value("\n\n")), default=Value(""))
    updated = (
        TicketSearchDocument.objects.filter(pk=ticket.pk)
        .filter(~Exists(later))
        .update(
            **{
                column: Substr(
                    Concat(
                        F(column), separator, Value(_clip(reply.body)), output_field=TextField()
                    ),
                    1,
                    MAX_PART,
                )
            },
            indexed_at=now(),
        )
    )
    if not updated:
        index_ticket(ticket)
        return
    _vectorise(ticket.pk)


def rebuild_index() -> int:
    """Rewrite every ticket's search document (after a restore or a bulk import that went
    around the services); answers how many tickets were indexed."""
    count = 0
    for ticket in (
        Ticket.objects.only("pk", "organization_id", "subject", "description")
        .order_by("pk")
        .iterator(chunk_size=500)
    ):
        index_ticket(ticket)
        count += 1
    if not _is_postgresql():
        with connection.cursor() as cursor:
            # Re-reads the document table, repairing an FTS table that drifted from it.
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")  # noqa: S608
    return count


def clean_query(text: str) -> str:
    """User text as it may reach the database: no NUL (PostgreSQL refuses it), no lone
    surrogates (no database encodes them), at most :data:`MAX_QUERY` characters."""
    text = text[:MAX_QUERY].replace("\x00", " ")
    return text.encode("utf-8", "ignore").decode("utf-8").strip()


def fts5_query(text: str, *, include_internal: bool) -> str | None:
    """An FTS5 MATCH expression for user text, or None when it holds no word.

    Every word is a quoted string, so no FTS5 operator, column name or quote in the input has
    any meaning; the last word matches as a prefix, for search-as-you-type.
    """
    terms = _WORD.findall(clean_query(text))[:MAX_TERMS]
    if not terms:
        return None
    expression = " ".join(f'"{term}"' for term in terms) + "*"
    if include_internal:
        return expression
    return "{" + " ".join(PUBLIC_COLUMNS) + "} : (" + expression + ")"


def _pg_query(text: str) -> SearchQuery:
    return SearchQuery(clean_query(text), search_type="websearch", config=PG_CONFIG)


def _nothing(queryset: TicketQuerySet) -> TicketQuerySet:
    # Annotated like a real result, so that callers may order and paginate it the same way.
    rank = Value(0, output_field=BigIntegerField())
    return queryset.none().annotate(search_rank=rank).order_by(*SEARCH_ORDER)


def matching(queryset: TicketQuerySet, text: str, *, include_internal: bool) -> TicketQuerySet:
    """Every ticket of ``queryset`` that matches ``text``, unranked and in no order (for
    counting; a list of results is :func:`search_tickets`)."""
    if _is_postgresql():
        if not clean_query(text):
            return queryset.none()
        vector = (
            "search_document__staff_vector"
            if include_internal
            else "search_document__public_vector"
        )
        return queryset.filter(**{vector: _pg_query(text)})
    match = fts5_query(text, include_internal=include_internal)
    if match is None:
        return queryset.none()
    matched = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
    # The SQL is constant; the user's text is a bound parameter, already quoted for FTS5.
    return queryset.filter(pk__in=RawSQL(matched, [match]))  # noqa: S611


def organizations_searched(user: User, organization_id: int | None) -> list[int] | None:
    """The organisations a search by ``user`` can find tickets in, as ids (``organization_id``
    alone when the search is narrowed to that one), or None for every organisation: passed to
    :func:`search`, it lets the walk over the matches skip other organisations' documents by
    their own ``organization`` column instead of reading each to join its ticket."""
    if organization_id is not None:
        return [organization_id]
    if sees_all_organizations(user):
        return None
    return list(organizations_for(user).values_list("pk", flat=True))


def _newest_matches(
    queryset: TicketQuerySet,
    text: str,
    *,
    include_internal: bool,
    limit: int,
    organizations: Sequence[int] | None,
) -> list[int]:
    """The ids of the newest ``limit`` matches of ``queryset``, newest first.

    PostgreSQL finds a word's matches through its GIN index in no useful order, so asking for
    the newest of them at once reads every match (a heap page each) before the sort. The walk
    asks instead within windows of ticket ids, newest first: in each, the GIN bitmap is ANDed
    with a primary-key range of the search documents, so only the matches inside the window
    are read. The first window is :data:`SEARCH_WINDOW` ids; each next one is sized from the
    share of matches seen so far (at least twice the last), so a common word stops after one
    or two windows and a rare one reaches the oldest ticket in a few cheap steps. Every
    window is disjoint, so the result is exactly the newest ``limit`` matches. A window that
    would reach the oldest ticket (always the second for a word found in none of the first)
    is one query for the newest matches of all, cheap for a rare word.
    """
    found = matching(queryset, text, include_internal=include_internal).order_by("-pk")
    if organizations is not None:
        # The same rows: a document's organisation is always its ticket's (index_ticket).
        found = found.filter(search_document__organization_id__in=organizations)
    if not _is_postgresql():
        return list(found.values_list("pk", flat=True)[:limit])
    top = TicketSearchDocument.objects.aggregate(top=Max("ticket_id"))["top"]
    if top is None:
        return []
    ids: list[int] = []
    high = top + 1
    span = SEARCH_WINDOW
    for _ in range(SEARCH_WINDOWS):
        if span >= high:
            break
        low = high - span
        ids.extend(
            found.filter(
                search_document__ticket_id__gte=low, search_document__ticket_id__lt=high
            ).values_list("pk", flat=True)[: limit - len(ids)]
        )
        if len(ids) >= limit:
            return ids
        if not ids:
            break
        walked = top + 1 - low
        high = low
        wanted = (limit - len(ids)) * walked // len(ids)
        span = max(2 * span, wanted + wanted // 2)
    # The rest of the table: every match from ``high`` up is in ``ids`` already, so the
    # newest ``limit`` of all are those and the next ones. Ordered by an expression that no
    # index provides, so that the matches come from the GIN index (few, since the windows
    # found few) rather than from a walk over every ticket, newest first, that checks each.
    newest = ExpressionWrapper(F("pk") + Value(0), output_field=BigIntegerField())
    rest = found.alias(newest=newest).order_by(F("newest").desc())
    return list(rest.values_list("pk", flat=True)[:limit])


@dataclass(frozen=True)
class SearchResult:
    """The ranked matches (:func:`search_tickets`) and whether more tickets match than were
    ranked (the newest :data:`SEARCH_CANDIDATES`)."""

    tickets: TicketQuerySet
    capped: bool


def search_tickets(
    queryset: TicketQuerySet, text: str, *, include_internal: bool
) -> TicketQuerySet:
    """The tickets of ``queryset`` that match ``text``, best first (:data:`SEARCH_ORDER`),
    ranked among the newest :data:`SEARCH_CANDIDATES` matches only.

    Each carries ``search_rank``, an integer (higher is better) for keyset pagination.
    ``include_internal`` lets internal notes match: provider staff only.
    """
    return search(queryset, text, include_internal=include_internal).tickets


def search(
    queryset: TicketQuerySet,
    text: str,
    *,
    include_internal: bool,
    organizations: Sequence[int] | None = None,
) -> SearchResult:
    """:func:`search_tickets` and whether more match, from one walk over the matches:
    the newest :data:`SEARCH_CANDIDATES` + 1 are found (:func:`_newest_matches`), the extra
    one only telling that there are more.

    ``organizations`` (from :func:`organizations_searched`) must hold every organisation
    ``queryset`` can hold tickets of; it narrows the work, never what is found."""
    if _is_postgresql():
        if not clean_query(text):
            return SearchResult(_nothing(queryset), capped=False)
    elif fts5_query(text, include_internal=include_internal) is None:
        return SearchResult(_nothing(queryset), capped=False)
    newest = _newest_matches(
        queryset,
        text,
        include_internal=include_internal,
        limit=SEARCH_CANDIDATES + 1,
        organizations=organizations,
    )
    candidates = newest[:SEARCH_CANDIDATES]
    capped = len(newest) > SEARCH_CANDIDATES
    if _is_postgresql():
        query = _pg_query(text)
        vector = (
            "search_document__staff_vector"
            if include_internal
            else "search_document__public_vector"
        )
        rank = SearchRank(F(vector), query) * Value(RANK_SCALE, output_field=FloatField())
        tickets = (
            queryset.filter(pk__in=candidates)
            .annotate(search_rank=Cast(rank, BigIntegerField()))
            .order_by(*SEARCH_ORDER)
        )
        return SearchResult(tickets, capped=capped)
    match = fts5_query(text, include_internal=include_internal)
    table = Ticket._meta.db_table
    rank_sql = (
        f"SELECT CAST(-bm25({FTS_TABLE}, {FTS_WEIGHTS}) * {RANK_SCALE} AS INTEGER) "  # noqa: S608
        f'FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s AND rowid = "{table}"."id"'
    )
    # The SQL is constant; the user's text is a bound parameter, already quoted for FTS5.
    tickets = (
        queryset.filter(pk__in=candidates)
        .annotate(search_rank=RawSQL(rank_sql, [match], output_field=BigIntegerField()))  # noqa: S611
        .order_by(*SEARCH_ORDER)
    )
    return SearchResult(tickets, capped=capped)


def search_page(
    found: TicketQuerySet, *, cursor: str | None, limit: int | None = None
) -> Page[Ticket]:
    """One page of :func:`search_tickets` results in :data:`SEARCH_ORDER`.

    A cursor from a list in another order (a date where a rank belongs) is refused with
    :class:`~buttress.lib.pagination.InvalidCursor` before it reaches the database.
    """
    if cursor:
        values, _ = decode_cursor(cursor, width=len(SEARCH_ORDER))
        if not all(type(value) is int for value in values):
            raise InvalidCursor("The cursor does not match this list's ordering.")
    return paginate(found, order=SEARCH_ORDER, cursor=cursor, limit=limit)


def _render(fragments: Sequence[str]) -> str:
    """The first fragment holding a match (else the first non-empty one), as safe HTML with
    ``<mark>`` around the matched words."""
    chosen = next((f for f in fragments if MARK_START in f), None)
    if chosen is None:
        chosen = next((f for f in fragments if f.strip()), "")
    escaped = html.escape(" ".join(chosen.split()))
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def _pg_snippets_sql(
    columns: Sequence[str], text: str, ticket_ids: list[int]
) -> tuple[str, list[Any]]:
    """One query answering, per ticket, the headlines of ``columns`` in order up to the first
    that holds a match: the later (long) columns are only worked on when no earlier one
    matched, and :func:`_render` picks the same fragment as from all of them."""
    # Quoted by the backend exactly as Django's SearchHeadline quotes its options.
    ops: Any = connection.ops
    options = ", ".join(
        ops.compose_sql(f"{name}=%s", [value])
        for name, value in (
            ("StartSel", MARK_START),
            ("StopSel", MARK_END),
            ("MaxWords", SNIPPET_WORDS),
            ("MinWords", SNIPPET_WORDS // 2),
            ("MaxFragments", 1),
        )
    )
    table = TicketSearchDocument._meta.db_table
    headline = "ts_headline(%s::regconfig, d.{column}, websearch_to_tsquery(%s::regconfig, %s), %s)"
    headline_params: list[Any] = [PG_CONFIG, PG_CONFIG, text, options]

    def level(index: int) -> tuple[str, list[Any]]:
        call = headline.format(column=columns[index])
        found = "ARRAY[" + ", ".join(f"h{n}" for n in range(index + 1)) + "]"
        if index == len(columns) - 1:
            return f"(SELECT {found} FROM {call} AS h{index})", headline_params  # noqa: S608
        rest, rest_params = level(index + 1)
        # Column names and aliases are constants of this module; the text is a parameter.
        sql = (
            f"(SELECT CASE WHEN strpos(h{index}, %s) > 0 THEN {found} ELSE {rest} END "  # noqa: S608
            f"FROM {call} AS h{index})"
        )
        return sql, [MARK_START, *rest_params, *headline_params]

    fragments, params = level(0)
    sql = f"SELECT d.ticket_id, {fragments} FROM {table} d WHERE d.ticket_id = ANY(%s)"  # noqa: S608
    return sql, [*params, ticket_ids]


def snippets(ticket_ids: Sequence[int], text: str, *, include_internal: bool) -> dict[int, str]:
    """A short HTML snippet per ticket of where ``text`` matched (for one page of results).

    Only columns the user may read are considered, so a customer never sees note text.
    """
    if not ticket_ids:
        return {}
    columns = STAFF_COLUMNS if include_internal else PUBLIC_COLUMNS
    if _is_postgresql():
        sql, params = _pg_snippets_sql(columns, clean_query(text), list(ticket_ids))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {int(row[0]): _render(row[1]) for row in cursor.fetchall()}
    match = fts5_query(text, include_internal=include_internal)
    if match is None:
        return {}
    parts = ", ".join(
        f"snippet({FTS_TABLE}, {STAFF_COLUMNS.index(column)}, %s, %s, '…', {SNIPPET_WORDS})"
        for column in columns
    )
    marks = [MARK_START, MARK_END] * len(columns)
    placeholders = ", ".join("%s" for _ in ticket_ids)
    sql = (
        f"SELECT rowid, {parts} FROM {FTS_TABLE} "  # noqa: S608
        f"WHERE {FTS_TABLE} MATCH %s AND rowid IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*marks, match, *ticket_ids])
        return {int(row[0]): _render([str(v or "") for v in row[1:]]) for row in cursor.fetchall()}
