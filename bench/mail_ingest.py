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

SQLite runs in a temporary folder; PostgreSQL in its own database (``bench_mail_ingest`` by
default), created, migrated and dropped at the end.
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
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TARGET = 50.0
ORGS = 20
CONTACTS_PER_ORG = 10
SEEDED_TICKETS = 100


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/mail_ingest.py", description=__doc__)
    parser.add_argument("--messages", type=int, default=600, help="messages per database")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.messages < 10:
        parser.error("--messages must be at least 10")
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if not kinds or any(k not in ("sqlite", "postgres") for k in kinds):
        parser.error("--databases is a list of sqlite and postgres")
    args.kinds = kinds
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
    count: int, seed: int, contacts: list[str], threads: list[tuple[str, str]]
) -> list[bytes]:
    """The mix described in the module docstring; ``threads`` are (thread id, reference)."""
    rng = random.Random(seed)
    messages: list[bytes] = []
    body = "Hello,\n\nthe printer on the second floor jams on every page since this morning.\n"
    for index in range(count):
        sender = rng.choice(contacts)
        draw = rng.random()
        mid = f"<bench-{seed}-{index}@mail.example>"
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


def child(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from buttress.desk import mail as desk_mail
    from buttress.desk import services as desk
    from buttress.desk.models import InboundMail, MailThread, Ticket
    from buttress.desk.services.inbound import receive
    from buttress.tenancy.models import Contact, Organization

    call_command("migrate", interactive=False, verbosity=0)
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
    for index in range(SEEDED_TICKETS):
        contact = contacts[index % len(contacts)]
        ticket = desk.create_ticket(
            contact.organization, actor=None, subject=f"Seeded {index}", requester=contact
        )
        MailThread.objects.remember(ticket, desk_mail.thread_id(ticket), outbound=True)
        threads.append((desk_mail.thread_id(ticket), ticket.reference))
        senders.append(contact.email)
    messages = _messages_for(args, contacts, threads, senders)
    total_bytes = sum(len(m) for m in messages)

    started = time.perf_counter()
    for raw in messages:
        _parse_only(raw)
    parse_seconds = time.perf_counter() - started

    by_email = {c.email: c for c in contacts}
    by_thread = dict(threads)
    tickets = {t.reference: t for t in Ticket.objects.all()}
    started = time.perf_counter()
    for raw in dict.fromkeys(messages):
        _desk_alone(raw, by_email, by_thread, tickets)
    desk_seconds = time.perf_counter() - started
    distinct = len(set(messages))

    tickets_before = Ticket.objects.count()
    cpu_started = time.process_time()
    started = time.perf_counter()
    statuses: dict[str, int] = {}
    duplicates = 0
    for raw in messages:
        outcome = receive(raw)
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        duplicates += outcome.duplicate
    ingest_seconds = time.perf_counter() - started
    ingest_cpu = time.process_time() - cpu_started
    unique = len(set(messages))
    assert InboundMail.objects.count() == unique, "each distinct message is stored once"
    return {
        "database": connection.vendor,
        "messages": len(messages),
        "distinct": unique,
        "megabytes": round(total_bytes / 1048576, 1),
        "statuses": statuses,
        "duplicates": duplicates,
        "tickets_opened": Ticket.objects.count() - tickets_before,
        "ingest_seconds": round(ingest_seconds, 3),
        "ingest_per_second": round(len(messages) / ingest_seconds, 1),
        "ingest_per_cpu_second": round(len(messages) / ingest_cpu, 1),
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
    raw = build_messages(args.messages, args.seed, [c.email for c in contacts], threads)
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
    if kind == "sqlite":
        env.pop("DATABASE_URL", None)
    else:
        env["DATABASE_URL"] = args.postgres_url
        _postgres(args.postgres_url, create=True)
    (folder / kind).mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                kind,
                "--messages",
                str(args.messages),
                "--seed",
                str(args.seed),
                "--databases",
                kind,
                "--postgres-url",
                args.postgres_url,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        if kind == "postgres":
            _postgres(args.postgres_url, create=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-4000:]}")
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
        ("messages (distinct)", None),
        ("megabytes of mail", "megabytes"),
        ("tickets opened", "tickets_opened"),
        ("outcomes", None),
        ("baseline: parsing alone, msg/s", "parse_per_second"),
        ("ingestion, one worker, msg/s", "ingest_per_second"),
        ("ingestion time, s", "ingest_seconds"),
        ("ingestion per CPU-second of the worker", "ingest_per_cpu_second"),
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
            elif label == "outcomes":
                values.append(", ".join(f"{k} {v}" for k, v in sorted(result["statuses"].items())))
            else:
                assert key is not None
                values.append(str(result[key]))
        print(f"{label:<40} " + " | ".join(f"{v:>24}" for v in values))
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
