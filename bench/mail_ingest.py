"""Mail ingestion benchmark: messages per second through the desk's intake on one worker.

Target: at least 50 messages per second on one worker, on SQLite and on PostgreSQL.

One process calls :func:`buttress.desk.services.inbound.receive` for each message in turn,
as `buttress mail ingest`, the mailbox poller and the SMTP listener's processing task do:
store the raw message (committed), then parse, find the contact, thread, and open a ticket
or add a reply with its attachments (committed, with the acknowledgement task queued in
django-tasks-db). The mix, drawn with a fixed seed: 45 % new requests, 35 % replies (half
threaded by In-Reply-To to an acknowledgement the desk sent, half by the subject tag), 10 %
new requests with a 200 KB PDF attachment, 5 % HTML mail, 5 % deliveries of a message already
received. Two baselines are measured in the same run on the same messages: parsing alone (the
standard library's parser, the body and the attachments read), and the desk alone (each
distinct message's ticket or reply made by calling the desk's services directly, without the
intake: no storing, sender rules, threading or decision), which shows what the intake itself
adds to the desk's own work.

    .venv/bin/python bench/mail_ingest.py                       # SQLite and PostgreSQL, 600 each
    .venv/bin/python bench/mail_ingest.py --databases sqlite --messages 200   # a quick check
    .venv/bin/python bench/mail_ingest.py --scale --postgres-url postgres://.../bench_mail_scale

The quick run seeds 20 organisations and 100 tickets: SQLite in a temporary folder,
PostgreSQL in its own database (``bench_mail_ingest`` by default), created, migrated and
dropped at the end. ``--scale`` runs on PostgreSQL only, against the desk's benchmark data
(:mod:`bench.desk_seed`: 1,000,000 tickets, about 5,000,000 replies, 50 organisations; smaller
with ``--tickets``), loaded once and kept (the database is not dropped; a later run with the
same size reuses it). To that data it adds what mail intake looks things up in, set-based:
the acknowledgement's Message-ID of every ticket in ``desk_mailthread``, and for every ticket
opened by email its stored message (``desk_inboundmail``) and that message's Message-ID, so
the duplicate check, the per-sender count and the threading lookups run against tables of a
real installation's size. Replies then answer a sample of the tickets still being worked on
(among them a few with 120 replies), each sent by the ticket's requester; new requests come
from the seeded contacts. Each run's Message-IDs carry the run's start time, so runs on the
kept data never collide.

Besides messages per second, it prints the worker's CPU time per message and the queries per
message (by outcome), counted by a wrapper on the database connection. ``--batch N`` takes the
messages N at a time with :func:`~buttress.desk.services.inbound.receive_many` (group commit,
as ``buttress mail ingest`` and the processing task do); ``--statements N`` prints the N
statement shapes that took the most wall time during ingestion.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/bench_mail_ingest"
DEFAULT_SCALE_POSTGRES = "postgres://postgres@127.0.0.1:5432/bench_mail_scale"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TARGET = 50.0
ORGS = 20
CONTACTS_PER_ORG = 10
SEEDED_TICKETS = 100
# --scale: tickets being worked on that replies answer, and how many of them are long ones.
SCALE_THREADS = 300
SCALE_HEAVY_THREADS = 10
WORKING_STATUSES = ("new", "open", "in_progress", "waiting_on_customer", "waiting_on_third_party")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/mail_ingest.py", description=__doc__)
    parser.add_argument("--messages", type=int, default=600, help="messages per database")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--postgres-url", default=None, help="default: " + DEFAULT_POSTGRES)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scale", action="store_true", help="PostgreSQL only, against the desk's benchmark data"
    )
    parser.add_argument("--tickets", type=int, default=1_000_000, help="--scale: tickets")
    parser.add_argument("--orgs", type=int, default=50, help="--scale: organisations")
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    parser.add_argument(
        "--statements",
        type=int,
        default=0,
        help="print the N statement shapes that took the most wall time during ingestion",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="messages per receive_many call (group commit); 1: receive() for each",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    if args.messages < 10:
        parser.error("--messages must be at least 10")
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if not kinds or any(k not in ("sqlite", "postgres") for k in kinds):
        parser.error("--databases is a list of sqlite and postgres")
    if args.scale:
        kinds = ["postgres"]
        if args.tickets < 1000:
            parser.error("--tickets must be at least 1000")
    args.kinds = kinds
    if args.postgres_url is None:
        args.postgres_url = DEFAULT_SCALE_POSTGRES if args.scale else DEFAULT_POSTGRES
    url = urlsplit(args.postgres_url)
    if "postgres" in kinds and (url.hostname not in LOOPBACK or "bench" not in url.path):
        parser.error("--postgres-url must be on loopback and name a database with 'bench' in it")
    return args


# --- the child: one database -----------------------------------------------------------------


def _pdf(rng: random.Random) -> bytes:
    return b"%PDF-1.4\n" + rng.randbytes(200 * 1024) + b"\n%%EOF\n"


def _mail(
    sender: str, subject: str, message_id: str, body: str, headers: dict[str, str]
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "support@provider.example"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    mail["Date"] = "Fri, 27 Nov 2026 10:00:00 +0000"
    for name, value in headers.items():
        mail[name] = value
    mail.set_content(body)
    return mail


def build_messages(
    count: int, seed: int, contacts: list[str], threads: list[tuple[str, str]], tag: str = ""
) -> list[bytes]:
    """The mix described in the module docstring; ``threads`` are (thread id, reference);
    ``tag`` goes into every Message-ID (a run on kept data)."""
    rng = random.Random(seed)
    messages: list[bytes] = []
    body = "Hello,\n\nthe printer on the second floor jams on every page since this morning.\n"
    for index in range(count):
        sender = rng.choice(contacts)
        draw = rng.random()
        mid = f"<bench-{seed}{tag}-{index}@mail.example>"
        if draw < 0.45:
            mail = _mail(sender, f"Printer problem {index}", mid, body * 3, {})
        elif draw < 0.80:
            thread_id, reference = rng.choice(threads)
            if draw < 0.625:
                headers = {"In-Reply-To": thread_id, "References": thread_id}
                subject = "Re: your request"
            else:
                headers, subject = {}, f"Re: [{reference}] your request"
            text = "Still broken, see below.\n\nOn Monday Support wrote:\n> old text\n"
            mail = _mail(sender, subject, mid, text, headers)
        elif draw < 0.90:
            mail = _mail(sender, f"Invoice scan {index}", mid, "Scan attached.", {})
            mail.add_attachment(
                _pdf(rng), maintype="application", subtype="pdf", filename=f"scan-{index}.pdf"
            )
        elif draw < 0.95:
            mail = _mail(sender, f"Formatted {index}", mid, "plain part", {})
            mail.set_content(
                f"<html><body><p>Hello</p><script>x()</script><p>{body}</p></body></html>",
                subtype="html",
            )
        else:
            if messages:
                messages.append(messages[rng.randrange(len(messages))])
                continue
            mail = _mail(sender, f"First {index}", mid, body, {})
        messages.append(bytes(mail))
    return messages


def _parse_only(raw: bytes) -> int:
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    size = 0
    part = message.get_body(preferencelist=("plain", "html"))
    if part is not None:
        size += len(str(part.get_content()))
    for attachment in message.iter_attachments():
        data = attachment.get_payload(decode=True)
        size += len(data) if isinstance(data, bytes) else 0
    return size


def _small_data() -> tuple[list[Any], list[tuple[str, str]], list[str], dict[str, Any]]:
    """The quick run's data: (contacts, threads, thread senders, tickets by reference)."""
    from buttress.desk import mail as desk_mail
    from buttress.desk import services as desk
    from buttress.desk.models import MailThread
    from buttress.tenancy.models import Contact, Organization

    orgs = Organization.objects.bulk_create(
        Organization(name=f"Bench org {i}", slug=f"bench-{i}", email_domains=[f"org{i}.example"])
        for i in range(ORGS)
    )
    Contact.objects.bulk_create(
        Contact(organization=org, name=f"Person {j}", email=f"p{j}@org{i}.example")
        for i, org in enumerate(orgs)
        for j in range(CONTACTS_PER_ORG)
    )
    contacts = list(Contact.objects.select_related("organization"))
    threads: list[tuple[str, str]] = []
    # Replies thread into tickets of their sender's organisation: seed each thread for a
    # contact and let only that contact answer it.
    senders: list[str] = []
    tickets: dict[str, Any] = {}
    for index in range(SEEDED_TICKETS):
        contact = contacts[index % len(contacts)]
        ticket = desk.create_ticket(
            contact.organization, actor=None, subject=f"Seeded {index}", requester=contact
        )
        MailThread.objects.remember(ticket, desk_mail.thread_id(ticket), outbound=True)
        threads.append((desk_mail.thread_id(ticket), ticket.reference))
        senders.append(contact.email)
        tickets[ticket.reference] = ticket
    return contacts, threads, senders, tickets


MAIL_THREADS_SQL = """
INSERT INTO desk_mailthread (message_id, ticket_id, organization_id, outbound, created_at)
SELECT '<ticket-' || number || '@' || %(domain)s || '>', id, organization_id, true, created_at
FROM desk_ticket WHERE id <= %(tickets)s
UNION ALL
SELECT '<seeded-' || t.id || '@' || split_part(c.email, '@', 2) || '>', t.id, t.organization_id,
    false, t.created_at
FROM desk_ticket t JOIN tenancy_contact c ON c.id = t.requester_id
WHERE t.id <= %(tickets)s AND t.source = 'email'
ON CONFLICT DO NOTHING
"""

INBOUND_MAIL_SQL = """
INSERT INTO desk_inboundmail (message_id, digest, received_at, source, mailbox_id, recipients,
    size, sender, subject, status, reason, decision, organization_id, ticket_id, raw, attempts,
    process_due_at, processed_at)
SELECT mid, '', t.created_at, 'imap', NULL, '[]'::jsonb, octet_length(raw), c.email,
    left(t.subject, 250), 'new_ticket', '', 'opened a new ticket', t.organization_id, t.id,
    raw, 1, NULL, t.created_at
FROM desk_ticket t JOIN tenancy_contact c ON c.id = t.requester_id
CROSS JOIN LATERAL (
    SELECT '<seeded-' || t.id || '@' || split_part(c.email, '@', 2) || '>' AS mid
) m
CROSS JOIN LATERAL (
    SELECT convert_to('From: ' || c.email || E'\r\nTo: support@provider.example\r\nSubject: '
        || t.subject || E'\r\nMessage-ID: ' || mid || E'\r\n\r\n' || t.description || E'\r\n',
        'UTF8') AS raw
) r
WHERE t.id <= %(tickets)s AND t.source = 'email'
ON CONFLICT DO NOTHING
"""


def _scale_data(
    args: argparse.Namespace,
) -> tuple[list[Any], list[tuple[str, str]], list[str], dict[str, Any], dict[str, int]]:
    """The desk's benchmark data (loaded unless already there) with its mail tables filled;
    (contacts, threads, thread senders, tickets by reference, table sizes)."""
    from django.core.management import call_command
    from django.db import connection

    from bench import desk_seed
    from buttress.desk import mail as desk_mail
    from buttress.desk.models import InboundMail, MailThread, Reply, Ticket
    from buttress.tenancy.models import Contact, Organization

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    replies = 5 * args.tickets
    bench_orgs = Organization.objects.filter(slug__startswith=desk_seed.ORG_SLUG_PREFIX).count()
    seeded = (
        bench_orgs == args.orgs
        and Ticket.objects.filter(pk__lte=args.tickets).count() == args.tickets
        and not Ticket.objects.filter(pk__lte=args.tickets, organization__isnull=True).exists()
    )
    if not seeded:
        log(f"loading {args.tickets:,} tickets, ~{replies:,} replies in {args.orgs} orgs ...")
        call_command("flush", interactive=False, verbosity=0)
        desk_seed.seed(tickets=args.tickets, replies=replies, orgs=args.orgs, heavy=100, log=log)
    if not MailThread.objects.filter(ticket_id=args.tickets, outbound=True).exists():
        log("adding the mail tables: Message-IDs and stored messages ...")
        started = time.perf_counter()
        params = {"domain": desk_mail.domain(), "tickets": args.tickets}
        with connection.cursor() as cursor:
            cursor.execute(MAIL_THREADS_SQL, params)
            cursor.execute(INBOUND_MAIL_SQL, params)
            cursor.execute("VACUUM (ANALYZE) desk_mailthread, desk_inboundmail")
        log(f"  mail tables: {time.perf_counter() - started:.1f}s")
    contacts = list(
        Contact.objects.filter(
            organization__slug__startswith=desk_seed.ORG_SLUG_PREFIX
        ).select_related("organization")
    )
    rng = random.Random(args.seed)
    heavy = desk_seed.heavy_ticket_ids(args.tickets, 100)[:SCALE_HEAVY_THREADS]
    candidates = sorted({rng.randint(1, args.tickets) for _ in range(SCALE_THREADS * 30)})
    chosen = list(
        Ticket.objects.filter(pk__in=candidates, status__in=WORKING_STATUSES)
        .exclude(pk__in=heavy)
        .select_related("requester", "organization")
        .order_by("pk")[: SCALE_THREADS - len(heavy)]
    )
    chosen += list(Ticket.objects.filter(pk__in=heavy).select_related("requester", "organization"))
    chosen = [t for t in chosen if t.requester is not None]
    threads = [(desk_mail.thread_id(t), t.reference) for t in chosen]
    senders = [t.requester.email for t in chosen if t.requester is not None]
    sizes = {
        "tickets": Ticket.objects.count(),
        "replies": Reply.objects.count(),
        "organizations": Organization.objects.count(),
        "mail_threads": MailThread.objects.count(),
        "inbound_mail": InboundMail.objects.count(),
    }
    return contacts, threads, senders, {t.reference: t for t in chosen}, sizes


def child(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from buttress.desk.models import InboundMail, Ticket
    from buttress.desk.services import inbound
    from buttress.desk.services.inbound import receive

    call_command("migrate", interactive=False, verbosity=0)
    sizes: dict[str, int] = {}
    if args.scale:
        contacts, threads, senders, tickets, sizes = _scale_data(args)
    else:
        contacts, threads, senders, tickets = _small_data()
    messages = _messages_for(args, contacts, threads, senders)
    total_bytes = sum(len(m) for m in messages)

    started = time.perf_counter()
    for raw in messages:
        _parse_only(raw)
    parse_seconds = time.perf_counter() - started

    by_email = {c.email: c for c in contacts}
    by_thread = dict(threads)
    started = time.perf_counter()
    for raw in dict.fromkeys(messages):
        _desk_alone(raw, by_email, by_thread, tickets)
    desk_seconds = time.perf_counter() - started
    distinct = len(set(messages))

    stored_before = InboundMail.objects.count()
    tickets_before = Ticket.objects.count()
    queries = [0]

    shapes: dict[str, list[float]] = {}

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries[0] += 1
        if not args.statements:
            return execute(sql, params, many, context)
        begun = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = shapes.setdefault(" ".join(sql.split())[:110], [0, 0.0])
            shape[0] += 1
            shape[1] += time.perf_counter() - begun

    by_status: dict[str, list[float]] = {}
    cpu_started = time.process_time()
    started = time.perf_counter()
    statuses: dict[str, int] = {}
    duplicates = 0
    with connection.execute_wrapper(counted):
        for first in range(0, len(messages), args.batch):
            chunk = messages[first : first + args.batch]
            before = queries[0]
            if args.batch == 1:
                outcomes: list[Any] = [receive(chunk[0])]
            else:
                outcomes = inbound.receive_many(chunk)
            # In a batch each message is counted at the batch's mean.
            share = (queries[0] - before) / len(chunk)
            for outcome in outcomes:
                assert not isinstance(outcome, Exception), outcome
                statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
                duplicates += outcome.duplicate
                kind = "duplicate" if outcome.duplicate else outcome.status
                by_status.setdefault(kind, []).append(share)
    ingest_seconds = time.perf_counter() - started
    ingest_cpu = time.process_time() - cpu_started
    unique = len(set(messages))
    for shape_sql, (count, seconds) in sorted(shapes.items(), key=lambda kv: -kv[1][1])[
        : args.statements
    ]:
        print(
            f"{1000 * seconds / len(messages):7.2f} ms/msg {int(count):5d}x  {shape_sql}",
            file=sys.stderr,
        )
    assert InboundMail.objects.count() - stored_before == unique, "each message is stored once"
    return {
        "database": connection.vendor,
        "data": "scale" if args.scale else "small",
        "batch": args.batch,
        "table_sizes": sizes,
        "messages": len(messages),
        "distinct": unique,
        "megabytes": round(total_bytes / 1048576, 1),
        "statuses": statuses,
        "duplicates": duplicates,
        "tickets_opened": Ticket.objects.count() - tickets_before,
        "ingest_seconds": round(ingest_seconds, 3),
        "ingest_per_second": round(len(messages) / ingest_seconds, 1),
        "ingest_per_cpu_second": round(len(messages) / ingest_cpu, 1),
        "cpu_ms_per_message": round(1000 * ingest_cpu / len(messages), 2),
        "queries_per_message": round(queries[0] / len(messages), 1),
        "queries_by_outcome": {
            kind: round(sum(counts) / len(counts), 1) for kind, counts in sorted(by_status.items())
        },
        "parse_seconds": round(parse_seconds, 3),
        "parse_per_second": round(len(messages) / parse_seconds, 1),
        "ratio_parse_to_ingest": round(ingest_seconds / parse_seconds, 1),
        "desk_alone_seconds": round(desk_seconds, 3),
        "desk_alone_per_second": round(distinct / desk_seconds, 1),
        "ratio_desk_alone_to_ingest": round(ingest_seconds / desk_seconds, 2),
        "verdict": "PASS" if len(messages) / ingest_seconds >= TARGET else "FAIL",
    }


def _desk_alone(
    raw: bytes, by_email: dict[str, Any], by_thread: dict[str, str], tickets: dict[str, Any]
) -> None:
    """The desk's own work for one message, called directly: what the message would do,
    without the intake (no storing, sender rules, threading or decision)."""
    from email import policy
    from email.parser import BytesParser
    from email.utils import parseaddr

    from django.core.files.uploadedfile import SimpleUploadedFile

    from buttress.desk import services as desk
    from buttress.desk.services.attachments import attach

    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    contact = by_email[parseaddr(str(message["From"]))[1]]
    subject = str(message["Subject"])
    part = message.get_body(preferencelist=("plain", "html"))
    text = str(part.get_content()) if part is not None else ""
    reference = by_thread.get(str(message.get("In-Reply-To", "")))
    if reference is None and "[T-" in subject:
        reference = subject.split("[", 1)[1].split("]", 1)[0]
    if reference is not None:
        desk.add_reply(tickets[reference], actor=None, contact=contact, body=text.split("On ")[0])
        return
    ticket = desk.create_ticket(
        contact.organization,
        actor=None,
        subject=subject,
        description=text,
        requester=contact,
        source="email",
    )
    files = []
    for item in message.iter_attachments():
        data = item.get_payload(decode=True)
        if isinstance(data, bytes):
            files.append(SimpleUploadedFile(item.get_filename() or "file", data))
    if files:
        attach(ticket, files, actor=None)


def _messages_for(
    args: argparse.Namespace,
    contacts: list[Any],
    threads: list[tuple[str, str]],
    senders: list[str],
) -> list[bytes]:
    """The mix, with every reply sent by the contact whose thread it answers."""
    rng = random.Random(args.seed)
    raw = build_messages(args.messages, args.seed, [c.email for c in contacts], threads, args.tag)
    fixed: list[bytes] = []
    owner = {thread_id: senders[i] for i, (thread_id, _) in enumerate(threads)}
    owner.update({ref: senders[i] for i, (_, ref) in enumerate(threads)})
    for message in raw:
        text = message.decode("utf-8", errors="replace")
        for key, sender in owner.items():
            if key in text:
                text = "\n".join(
                    f"From: {sender}" if line.startswith("From: ") else line
                    for line in text.split("\n")
                )
                message = text.encode("utf-8")
                break
        fixed.append(message)
    rng.shuffle(fixed)
    return fixed


# --- the parent: one child per database ------------------------------------------------------


def _run_child(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "buttress.settings",
            "BUTTRESS_DATA_DIR": str(folder / kind),
            "BUTTRESS_TASK_BACKEND": "db",
            "BUTTRESS_DEBUG": "0",
            "BUTTRESS_LOG_LEVEL": "WARNING",
            "BUTTRESS_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "PYTHONPATH": str(ROOT),
        }
    )
    # The quick run makes and drops its database; --scale keeps the loaded data for the next.
    fresh = kind == "postgres" and not args.scale
    if kind == "sqlite":
        env.pop("DATABASE_URL", None)
    else:
        env["DATABASE_URL"] = args.postgres_url
        if fresh:
            _postgres(args.postgres_url, create=True)
        else:
            _ensure_postgres(args.postgres_url)
    (folder / kind).mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--messages",
        str(args.messages),
        "--seed",
        str(args.seed),
        "--statements",
        str(args.statements),
        "--batch",
        str(args.batch),
        "--databases",
        kind,
        "--postgres-url",
        args.postgres_url,
    ]
    if args.scale:
        command += ["--scale", "--tickets", str(args.tickets), "--orgs", str(args.orgs)]
        command.append("--tag=" + time.strftime("-%Y%m%dT%H%M%S"))
    try:
        # The child's progress (stderr) shows as it goes; its result is its last stdout line.
        done = subprocess.run(
            command, env=env, stdout=subprocess.PIPE, stderr=None, text=True, check=False
        )
    finally:
        if fresh:
            _postgres(args.postgres_url, create=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed (exit {done.returncode}); its output is above")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _postgres(url: str, *, create: bool) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def _ensure_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp:
        for kind in args.kinds:
            results.append(_run_child(kind, args, Path(tmp)))
    rows = [
        ("database", "database"),
        ("data", None),
        ("messages (distinct)", None),
        ("megabytes of mail", "megabytes"),
        ("tickets opened", "tickets_opened"),
        ("outcomes", None),
        ("baseline: parsing alone, msg/s", "parse_per_second"),
        ("ingestion, one worker, msg/s", "ingest_per_second"),
        ("ingestion time, s", "ingest_seconds"),
        ("ingestion per CPU-second of the worker", "ingest_per_cpu_second"),
        ("worker CPU per message, ms", "cpu_ms_per_message"),
        ("queries per message", "queries_per_message"),
        ("queries per message, by outcome", None),
        ("ratio ingestion time / parsing time", "ratio_parse_to_ingest"),
        ("baseline: the desk alone, msg/s", "desk_alone_per_second"),
        ("ratio ingestion time / desk alone", "ratio_desk_alone_to_ingest"),
        (f"verdict (>= {TARGET:.0f} msg/s)", "verdict"),
    ]
    for label, key in rows:
        values = []
        for result in results:
            if label.startswith("messages"):
                values.append(f"{result['messages']} ({result['distinct']})")
            elif label == "data":
                sizes = result["table_sizes"]
                values.append(
                    f"{sizes['tickets']:,} tickets, {sizes['replies']:,} replies"
                    if sizes
                    else "small (20 orgs, 100 tickets)"
                )
            elif label.endswith("by outcome"):
                values.append(
                    ", ".join(f"{k} {v}" for k, v in result["queries_by_outcome"].items())
                )
            elif label == "outcomes":
                values.append(", ".join(f"{k} {v}" for k, v in sorted(result["statuses"].items())))
            else:
                assert key is not None
                values.append(str(result[key]))
        print(f"{label:<40} " + " | ".join(f"{v:>30}" for v in values))
    for result in results:
        if result["table_sizes"]:
            print(
                "table sizes: " + ", ".join(f"{k} {v:,}" for k, v in result["table_sizes"].items())
            )
    out = (
        args.json
        or ROOT / "bench" / "results" / f"mail_ingest-{time.strftime('%Y%m%dT%H%M%S')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"results written to {out}")
    return 0 if all(r["verdict"] == "PASS" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
