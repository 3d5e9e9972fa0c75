"""Desk bench data on PostgreSQL: organisations, contacts, staff, tickets, replies, notes,
timeline events and search documents, written by set-based SQL (``INSERT ... SELECT`` over
``generate_series``).

A million tickets through the services would take days; the services are not what is being
measured. What the services keep in step is kept here the same way: every reply has its
timeline event, the ticket's SLA summary columns are filled, and each ticket's search document
holds the text and the two ``tsvector`` columns exactly as :func:`buttress.desk.search.
index_ticket` writes them, which :func:`verify_search_documents` checks on a sample by running
the product's own function and comparing.

The data is deterministic: the SQL ``random()`` is seeded and the statements run without
parallel workers, so two loads of the same size hold the same rows.
"""

# ruff: noqa: S608 - the SQL is assembled from constants of this file; values are parameters

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from buttress.accounts.models import Role, Team, User
from buttress.desk.models import FIRST_NUMBER, Reply, Ticket, TicketCounter, TicketSearchDocument
from buttress.tenancy.models import Contact, Organization

ORG_SLUG_PREFIX = "desk-bench-"
CONTACTS_PER_ORG = 40
AGENTS = 40
TEAMS = ("Service desk", "Infrastructure", "Networks", "Cloud", "Security", "Field engineers")
HEAVY_REPLIES = 120
HEAVY_ENTRIES = 200
TAGS = (
    "vip",
    "onboarding",
    "offboarding",
    "hardware",
    "licence",
    "backup",
    "network",
    "security",
    "printer",
    "email",
    "vpn",
    "billing",
)
CATEGORIES = ("Hardware", "Software", "Network", "Access", "Email", "Printing", "Backup")
# Words of everyday tickets: each is in a large share of them (a "very common" search).
TOPIC_WORDS = (
    "printer",
    "laptop",
    "password",
    "outlook",
    "mailbox",
    "vpn",
    "firewall",
    "server",
    "backup",
    "restore",
    "license",
    "install",
    "update",
    "upgrade",
    "slow",
    "crash",
    "error",
    "login",
    "account",
    "locked",
    "reset",
    "screen",
    "monitor",
    "keyboard",
    "network",
    "wifi",
    "switch",
    "router",
    "disk",
    "storage",
    "share",
    "folder",
    "permission",
    "access",
    "teams",
    "meeting",
    "calendar",
    "invoice",
    "phone",
    "headset",
    "certificate",
    "expired",
    "domain",
    "dns",
    "timeout",
    "database",
    "application",
    "browser",
    "download",
    "signature",
    "scanner",
    "toner",
    "dock",
    "battery",
    "remote",
    "desktop",
    "session",
    "profile",
    "sync",
    "onedrive",
)
# Syllables of made-up words: two make a word found in about one ticket in a hundred (a
# "common" search), three a word found in a handful (a "rare" search).
SYLLABLES = (
    "ka",
    "ro",
    "ve",
    "ni",
    "ta",
    "lu",
    "me",
    "so",
    "da",
    "pi",
    "ze",
    "fo",
    "gu",
    "la",
    "ri",
    "ne",
    "mo",
    "ba",
    "ti",
    "ku",
    "sa",
    "vo",
    "le",
    "di",
    "po",
    "xa",
    "qe",
    "wi",
    "yo",
    "hu",
    "ja",
    "cre",
    "pla",
    "stri",
    "gno",
    "tho",
    "vra",
    "kle",
    "dru",
    "fen",
    "mar",
    "tol",
    "bis",
    "gar",
    "lem",
    "nut",
    "ves",
    "pim",
    "dor",
    "kal",
    "fis",
    "bur",
    "nav",
    "sel",
    "tik",
    "rom",
    "jas",
    "hel",
    "zan",
)
TOPIC_SHARE = 0.3


@dataclass(frozen=True)
class SeedSummary:
    organizations: int
    tickets: int
    replies: int
    events: int
    heavy_tickets: list[int]
    seconds: float


@dataclass(frozen=True)
class Words:
    """Search words of known frequency in the loaded data, for the benchmark's queries."""

    very_common: str
    common: str
    rare: str


def is_seeded(*, tickets: int, replies: int, orgs: int) -> bool:
    bench_orgs = Organization.objects.filter(slug__startswith=ORG_SLUG_PREFIX).count()
    if bench_orgs != orgs:
        return False
    return (
        Ticket.objects.count() == tickets
        and TicketSearchDocument.objects.count() == tickets
        and abs(Reply.objects.count() - replies) <= replies // 20 + HEAVY_REPLIES * 200
    )


def heavy_ticket_ids(tickets: int, heavy: int) -> list[int]:
    every = max(1, tickets // max(1, heavy))
    return list(range(every, tickets + 1, every))[:heavy]


def _people(orgs: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """Organisations, their contacts (CONTACTS_PER_ORG each, in org order), agents, teams."""
    organizations = Organization.objects.bulk_create(
        [
            Organization(
                name=f"Customer {n:03d}",
                slug=f"{ORG_SLUG_PREFIX}{n:03d}",
                email_domains=[f"customer{n:03d}.example"],
            )
            for n in range(1, orgs + 1)
        ]
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                organization=org, name=f"Contact {n} of {org.name}", email=f"c{n}@{org.slug}.ex"
            )
            for org in organizations
            for n in range(1, CONTACTS_PER_ORG + 1)
        ]
    )
    # One hash for every seeded agent: they never sign in, and hashing is slow on purpose.
    unusable = make_password(None)
    agents = User.objects.bulk_create(
        [
            User(email=f"agent{n}@desk-bench.example", full_name=f"Agent {n}", role=Role.AGENT)
            for n in range(1, AGENTS + 1)
        ]
    )
    User.objects.filter(pk__in=[a.pk for a in agents]).update(password=unusable)
    teams = Team.objects.bulk_create([Team(name=name) for name in TEAMS])
    return (
        [o.pk for o in organizations],
        [c.pk for c in contacts],
        [a.pk for a in agents],
        [t.pk for t in teams],
    )


# A made-up word from syllable numbers; every SQL word generator below uses this shape.
def _syllable_sql(count: int) -> str:
    pick = "syl[1 + floor(random() * array_length(syl, 1))::int]"
    return " || ".join([pick] * count)


def _text_sql(words: str) -> str:
    """SQL for ``words`` (an SQL expression) words of ticket text; must be correlated."""
    topic = "topic[1 + floor(random() * array_length(topic, 1))::int]"
    return (
        "array_to_string(ARRAY(SELECT CASE WHEN random() < "
        f"{TOPIC_SHARE} THEN {topic} ELSE {_syllable_sql(2)} END "
        f"FROM generate_series(1, {words})), ' ')"
    )


TICKETS_SQL = """
INSERT INTO desk_ticket (
    id, number, organization_id, requester_id, created_by_id, subject, description, type,
    status, impact, urgency, priority, category, team_id, assignee_id, tags, source,
    root_cause, workaround, known_error, created_at, updated_at, first_response_at,
    resolved_at, closed_at, reopened_count, sla_state, sla_due_at
)
SELECT
    i, {first_number} + i - 1, orgs[org_n], contacts[(org_n - 1) * {contacts_per_org} + c_n],
    NULL, initcap(subject_text), description_text, type, status,
    CASE priority WHEN 'P1' THEN 'high' WHEN 'P2' THEN 'high' WHEN 'P3' THEN 'medium'
        ELSE 'low' END,
    CASE priority WHEN 'P1' THEN 'high' WHEN 'P2' THEN 'medium' WHEN 'P3' THEN 'medium'
        ELSE 'low' END,
    priority, category, team, assignee, tags, source, '', '', false, created, updated,
    CASE WHEN status <> 'new' THEN created + interval '20 minutes' END,
    CASE WHEN status IN ('resolved', 'closed') THEN updated END,
    CASE WHEN status = 'closed' THEN updated END,
    0,
    CASE
        WHEN status IN ('resolved', 'closed') THEN
            CASE WHEN r_sla < 0.75 THEN 'met' WHEN r_sla < 0.9 THEN 'breached' ELSE '' END
        WHEN status LIKE 'waiting%%' THEN 'paused'
        WHEN r_sla < 0.05 THEN ''
        WHEN r_sla < 0.2 THEN 'breached'
        WHEN r_sla < 0.3 THEN 'warning'
        ELSE 'running' END,
    CASE
        WHEN status IN ('resolved', 'closed') OR status LIKE 'waiting%%' OR r_sla < 0.05 THEN NULL
        WHEN r_sla < 0.2 THEN now - r_due * interval '48 hours'
        WHEN r_sla < 0.3 THEN now + r_due * interval '2 hours'
        ELSE now + interval '2 hours' + r_due * interval '70 hours' END
FROM (SELECT %(orgs)s::bigint[] AS orgs, %(contacts)s::bigint[] AS contacts,
    %(agents)s::bigint[] AS agents, %(teams)s::bigint[] AS teams, %(tags)s::text[] AS tag_names,
    %(categories)s::text[] AS categories, %(topic)s::text[] AS topic,
    %(syl)s::text[] AS syl) k
CROSS JOIN LATERAL (
    SELECT
        i, 1 + i %% {orgs_count} AS org_n,
        1 + floor(random() * {contacts_per_org})::int AS c_n,
        {subject} AS subject_text,
        {description} || ' ' || {rare} AS description_text,
        (ARRAY['incident', 'incident', 'incident', 'service_request', 'service_request',
            'problem'])[1 + floor(random() * 6)::int] AS type,
        CASE WHEN i %% {heavy_every} = 0 AND i / {heavy_every} <= {heavy} THEN 'in_progress'
            ELSE (CASE
                WHEN r_status < 0.02 THEN 'new' WHEN r_status < 0.05 THEN 'open'
                WHEN r_status < 0.08 THEN 'in_progress'
                WHEN r_status < 0.095 THEN 'waiting_on_customer'
                WHEN r_status < 0.10 THEN 'waiting_on_third_party'
                WHEN r_status < 0.20 THEN 'resolved' ELSE 'closed' END) END AS status,
        (ARRAY['P1', 'P2', 'P2', 'P2', 'P3', 'P3', 'P3', 'P3', 'P3', 'P3', 'P3', 'P3', 'P4',
            'P4', 'P4', 'P4', 'P4', 'P4', 'P4', 'P4'])[1 + floor(random() * 20)::int]
            AS priority,
        categories[1 + floor(random() * array_length(categories, 1))::int] AS category,
        CASE WHEN random() < 0.9 THEN teams[1 + floor(random() * array_length(teams, 1))::int]
            END AS team,
        CASE WHEN random() < 0.85 THEN agents[1 + floor(random() * array_length(agents, 1))::int]
            END AS assignee,
        CASE floor(random() * 5)::int
            WHEN 0 THEN '[]'::jsonb WHEN 1 THEN '[]'::jsonb
            WHEN 2 THEN jsonb_build_array(tag_names[1 + floor(random() * 12)::int])
            WHEN 3 THEN jsonb_build_array(tag_names[1 + floor(random() * 6)::int],
                tag_names[7 + floor(random() * 6)::int])
            ELSE jsonb_build_array(tag_names[1 + floor(random() * 4)::int],
                tag_names[5 + floor(random() * 4)::int],
                tag_names[9 + floor(random() * 4)::int]) END
            AS tags,
        (ARRAY['email', 'email', 'email', 'portal', 'portal', 'phone', 'api', 'monitoring'])
            [1 + floor(random() * 8)::int] AS source,
        created, r_status, r_sla, r_due, now,
        CASE WHEN r_status < 0.10 THEN greatest(created, now - random() * interval '30 days')
            ELSE least(now, created + random() * interval '10 days') END AS updated
    FROM (
        SELECT i, random() AS r_status, random() AS r_sla, random() AS r_due,
            %(now)s::timestamptz AS now,
            %(now)s::timestamptz - ({tickets} - i) * interval '94 seconds'
                - random() * interval '1 hour' AS created
        FROM generate_series(1, {tickets}) i
    ) base
) s
"""

REPLIES_SQL = """
INSERT INTO desk_reply (ticket_id, body, is_internal, created_at, author_id, author_contact_id)
SELECT t.id, {body}, internal,
    t.created_at + (t.updated_at - t.created_at) * n / (total + 1),
    CASE WHEN internal OR n %% 2 = 0 OR t.requester_id IS NULL
        THEN coalesce(t.assignee_id, agents[1 + t.id %% array_length(agents, 1)]) END,
    CASE WHEN NOT internal AND n %% 2 = 1 THEN t.requester_id END
FROM (
    SELECT t.*, CASE WHEN t.id %% {heavy_every} = 0 AND t.id / {heavy_every} <= {heavy}
        THEN {heavy_replies} ELSE (t.id * 7919) %% {spread} END AS total
    FROM desk_ticket t
) t
CROSS JOIN LATERAL (
    SELECT n, random() < 0.2 AS internal FROM generate_series(1, t.total) n
) r,
(SELECT %(agents)s::bigint[] AS agents, %(topic)s::text[] AS topic, %(syl)s::text[] AS syl) k
"""

CREATED_EVENTS_SQL = """
INSERT INTO desk_ticketevent (ticket_id, kind, actor_id, at, detail, is_internal)
SELECT id, 'created', NULL, created_at, jsonb_build_object(
    'number', number, 'status', 'new', 'type', type, 'priority', priority, 'impact', impact,
    'urgency', urgency, 'source', source, 'requester', requester_id, 'team', team_id,
    'assignee', assignee_id, 'pauses', false), false
FROM desk_ticket
"""

REPLY_EVENTS_SQL = """
INSERT INTO desk_ticketevent (ticket_id, kind, actor_id, at, detail, is_internal)
SELECT ticket_id, CASE WHEN is_internal THEN 'note_added' ELSE 'replied' END, author_id,
    created_at,
    jsonb_build_object('reply', id, 'by', CASE WHEN author_id IS NULL THEN 'customer'
        ELSE 'agent' END),
    is_internal
FROM desk_reply
"""

STATUS_EVENTS_SQL = """
INSERT INTO desk_ticketevent (ticket_id, kind, actor_id, at, detail, is_internal)
SELECT id, 'status_changed', assignee_id, at,
    jsonb_build_object('from', from_status, 'to', to_status, 'pauses', false), false
FROM (
    SELECT id, assignee_id, created_at + interval '10 minutes' AS at, 'new' AS from_status,
        CASE WHEN status IN ('resolved', 'closed') THEN 'in_progress' ELSE status END
            AS to_status
    FROM desk_ticket WHERE status <> 'new'
    UNION ALL
    SELECT id, assignee_id, resolved_at, 'in_progress', 'resolved'
    FROM desk_ticket WHERE status IN ('resolved', 'closed')
    UNION ALL
    SELECT id, assignee_id, closed_at + interval '1 second', 'resolved', 'closed'
    FROM desk_ticket WHERE status = 'closed'
) s
"""

# The long tickets: field changes and reassignments until the timeline holds HEAVY_ENTRIES.
HEAVY_EVENTS_SQL = """
INSERT INTO desk_ticketevent (ticket_id, kind, actor_id, at, detail, is_internal)
SELECT t.id, CASE WHEN n %% 3 = 0 THEN 'assigned' ELSE 'field_changed' END, t.assignee_id,
    t.created_at + (t.updated_at - t.created_at) * n / (needed + 1) + interval '1 second',
    CASE n %% 3
        WHEN 0 THEN jsonb_build_object('field', 'assignee',
            'before', agents[1 + n %% array_length(agents, 1)],
            'after', agents[1 + (n + 1) %% array_length(agents, 1)])
        WHEN 1 THEN jsonb_build_object('field', 'category',
            'before', 'Software', 'after', 'Hardware')
        ELSE jsonb_build_object('field', 'team',
            'before', teams[1 + n %% array_length(teams, 1)],
            'after', teams[1 + (n + 1) %% array_length(teams, 1)]) END,
    false
FROM (
    -- One pass over the timeline (its indexes are dropped while loading).
    SELECT t.*, {entries} - coalesce(e.entries, 0) AS needed
    FROM desk_ticket t LEFT JOIN (
        SELECT ticket_id, count(*) AS entries FROM desk_ticketevent
        WHERE ticket_id = ANY(%(heavy)s::bigint[]) GROUP BY ticket_id
    ) e ON e.ticket_id = t.id
    WHERE t.id = ANY(%(heavy)s::bigint[])
) t
CROSS JOIN LATERAL generate_series(1, greatest(t.needed, 0)) n,
(SELECT %(agents)s::bigint[] AS agents, %(teams)s::bigint[] AS teams) k
"""

# The search documents as buttress.desk.search.index_ticket writes them: the replies joined
# in conversation order, each part cut at MAX_PART, and the weighted vectors over the columns.
SEARCH_SQL = """
INSERT INTO desk_ticketsearchdocument (ticket_id, organization_id, subject, description,
    public_text, internal_text, public_vector, staff_vector, indexed_at)
SELECT id, organization_id, subject, description, public_text, internal_text,
    public_vector, public_vector || setweight(to_tsvector('{config}', internal_text), 'C'),
    now()
FROM (
    SELECT id, organization_id, subject, description, public_text, internal_text,
        setweight(to_tsvector('{config}', subject), 'A')
        || setweight(to_tsvector('{config}', description), 'B')
        || setweight(to_tsvector('{config}', public_text), 'C') AS public_vector
    FROM (
        SELECT t.id, t.organization_id, substr(t.subject, 1, {max_part}) AS subject,
            substr(t.description, 1, {max_part}) AS description,
            substr(coalesce(r.public_text, ''), 1, {max_part}) AS public_text,
            substr(coalesce(r.internal_text, ''), 1, {max_part}) AS internal_text
        FROM desk_ticket t LEFT JOIN (
            SELECT ticket_id,
                string_agg(body, E'\\n\\n' ORDER BY created_at, id)
                    FILTER (WHERE NOT is_internal) AS public_text,
                string_agg(body, E'\\n\\n' ORDER BY created_at, id)
                    FILTER (WHERE is_internal) AS internal_text
            FROM desk_reply GROUP BY ticket_id
        ) r ON r.ticket_id = t.id
    ) parts
    -- A fence: the vector is used twice above and must be computed once.
    OFFSET 0
) vectors
"""

LOADED_TABLES = ("desk_ticket", "desk_reply", "desk_ticketevent", "desk_ticketsearchdocument")


def _secondary_indexes() -> list[tuple[str, str]]:
    """(name, definition) of the loaded tables' indexes that back no constraint."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            ORDER BY i.tablename, i.indexname
            """,
            [list(LOADED_TABLES)],
        )
        return [(str(name), str(definition)) for name, definition in cursor.fetchall()]


def _step(label: str, run: Callable[[], int | None], log: Callable[[str], None]) -> None:
    started = time.perf_counter()
    rows = run()
    rows_text = "" if rows is None or rows < 0 else f" ({rows:,} rows)"
    log(f"  {label}{rows_text}: {time.perf_counter() - started:.1f}s")


def _execute(sql: str, params: dict[str, Any] | None = None) -> Callable[[], int]:
    def run() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    return run


def seed(
    *, tickets: int, replies: int, orgs: int, heavy: int, log: Callable[[str], None] = print
) -> SeedSummary:
    """Fill an empty, migrated database; the caller has flushed it."""
    started = time.perf_counter()
    from buttress.desk.search import MAX_PART, PG_CONFIG
    from buttress.lib.timeutil import now

    org_ids, contact_ids, agent_ids, team_ids = _people(orgs)
    heavy_every = max(1, tickets // max(1, heavy))
    average = max(0, round(replies / tickets))
    common = {
        "orgs": org_ids,
        "contacts": contact_ids,
        "agents": agent_ids,
        "teams": team_ids,
        "tags": list(TAGS),
        "categories": list(CATEGORIES),
        "topic": list(TOPIC_WORDS),
        "syl": list(SYLLABLES),
        "now": now(),
    }
    shape = {
        "tickets": tickets,
        "orgs_count": orgs,
        "contacts_per_org": CONTACTS_PER_ORG,
        "first_number": FIRST_NUMBER,
        "heavy_every": heavy_every,
        "heavy": heavy,
        "heavy_replies": HEAVY_REPLIES,
        "spread": 2 * average + 1,
        "subject": _text_sql("4 + i %% 5"),
        "description": _text_sql("15 + i %% 20"),
        "rare": _syllable_sql(3),
        "body": _text_sql("8 + (t.id + n) %% 20"),
        "entries": HEAVY_ENTRIES,
        "config": PG_CONFIG,
        "max_part": MAX_PART,
    }
    indexes = _secondary_indexes()
    with transaction.atomic(), connection.cursor() as cursor:
        # Deterministic random(), one process per statement, foreign keys not checked row by
        # row (the rows are made from each other's ids), and room to sort and aggregate.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SELECT setseed(0.4242)")
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        _step("tickets", _execute(TICKETS_SQL.format(**shape), common), log)
        _step("replies and notes", _execute(REPLIES_SQL.format(**shape), common), log)
        _step("created events", _execute(CREATED_EVENTS_SQL), log)
        _step("reply and note events", _execute(REPLY_EVENTS_SQL), log)
        _step("status events", _execute(STATUS_EVENTS_SQL), log)
        heavy_ids = heavy_ticket_ids(tickets, heavy)
        _step(
            "long timelines",
            _execute(
                HEAVY_EVENTS_SQL.format(**shape),
                {"heavy": heavy_ids, "agents": agent_ids, "teams": team_ids},
            ),
            log,
        )
        _step("search documents", _execute(SEARCH_SQL.format(**shape)), log)
        for table in ("desk_ticket", "desk_reply", "desk_ticketevent"):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))",
                [table],
            )
        TicketCounter.objects.update_or_create(pk=1, defaults={"last": FIRST_NUMBER + tickets - 1})
        for name, definition in indexes:
            _step(f"index {name}", _execute(definition), log)
    with connection.cursor() as cursor:
        _step("vacuum analyze", _execute(f"VACUUM (ANALYZE) {', '.join(LOADED_TABLES)}"), log)
    return SeedSummary(
        organizations=orgs,
        tickets=Ticket.objects.count(),
        replies=Reply.objects.count(),
        events=_count("desk_ticketevent"),
        heavy_tickets=heavy_ids,
        seconds=time.perf_counter() - started,
    )


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return int(cursor.fetchone()[0])


def search_words(seed_value: int = 7) -> Words:
    """A very common, a common and a rare word of the loaded data, with their ticket counts
    checked by the caller through the product's own search."""
    rng = random.Random(seed_value)
    with connection.cursor() as cursor:
        # A made-up two-syllable word from some ticket's description, and a three-syllable one
        # (each description ends with one).
        cursor.execute(
            "SELECT description FROM desk_ticket WHERE id = %s",
            [max(1, rng.randrange(1, 1000))],
        )
        row = cursor.fetchone()
    words = str(row[0]).split() if row else []
    made_up = [w for w in words[:-1] if w not in TOPIC_WORDS]
    return Words(
        very_common="printer",
        common=made_up[0] if made_up else "kalo",
        rare=words[-1] if words else "kalomen",
    )


def verify_search_documents(ticket_ids: Sequence[int]) -> list[int]:
    """Tickets whose loaded search document differs from what the product writes (none, when
    the load is right): each is indexed again by :func:`buttress.desk.search.index_ticket`
    inside a transaction that is rolled back, and the two are compared column by column."""
    from buttress.desk.search import index_ticket

    columns = ("subject", "description", "public_text", "internal_text")
    vectors = "public_vector::text, staff_vector::text"

    def snapshot() -> dict[int, tuple[object, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT ticket_id, {', '.join(columns)}, {vectors} "
                "FROM desk_ticketsearchdocument WHERE ticket_id = ANY(%s)",
                [list(ticket_ids)],
            )
            return {int(row[0]): tuple(row[1:]) for row in cursor.fetchall()}

    loaded = snapshot()
    with transaction.atomic():
        for ticket in Ticket.objects.filter(pk__in=ticket_ids):
            index_ticket(ticket)
        indexed = snapshot()
        transaction.set_rollback(True)
    return sorted(pk for pk in ticket_ids if loaded.get(pk) != indexed.get(pk) or pk not in loaded)


def sample_ids(tickets: int, heavy_ids: Sequence[int], count: int = 40) -> list[int]:
    rng = random.Random(11)
    return sorted({*heavy_ids[:5], *(rng.randint(1, tickets) for _ in range(count))})
