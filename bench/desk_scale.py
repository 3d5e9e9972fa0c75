"""Service desk at scale: queues, search and long tickets over 1,000,000 tickets on PostgreSQL.

Targets, measured by a load generator on loopback against a real ``buttress web`` server,
signed in as an agent (session cookie) and with an API token: a queue page (UI or API list)
answers with p95 under 100 ms, a full-text search under 200 ms, a ticket with 200 timeline
entries (page or API timeline) under 150 ms; and the number of database queries per request
does not grow with the number of rows on the page or entries on the timeline.

    python -m bench.desk_scale                  # 1,000,000 tickets, 5,000,000 replies, 50 orgs
    python -m bench.desk_scale --reuse          # measure again on the data already loaded
    python -m bench.desk_scale --tickets 20000 --requests 200   # a quick check

The database (``buttress_desk_bench`` by default) is created and migrated on first use. Without
``--reuse`` it is emptied and loaded again (a full load takes a while); with ``--reuse`` the
loaded data is kept when its size matches. The baseline is ``/healthz`` on the same server,
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from bench import server as web
from bench.assets_list import choose_baseline, configure_environment, ensure_database, run_loadgen
from bench.report import print_counts, print_table, verdicts

if TYPE_CHECKING:
    from bench.desk_seed import Words
    from bench.querycount import Comparison

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/buttress_desk_bench"
AGENT_EMAIL = "desk-bench-agent@buttress.example"
LIMITED_EMAIL = "desk-bench-limited@buttress.example"
QUEUE_P95_MS = 100.0
SEARCH_P95_MS = 200.0
TICKET_P95_MS = 150.0
TIMELINE_PAGE = 200
NEXT_CURSOR = re.compile(r'href="\?[^"]*?cursor=([A-Za-z0-9_-]+)[^"]*"[^>]*rel="next"')


def target_of(name: str) -> float | None:
    """The p95 target of an endpoint, from the first word of its name."""
    kind = name.split(" ", 1)[0]
    return {"queue": QUEUE_P95_MS, "search": SEARCH_P95_MS, "ticket": TICKET_P95_MS}.get(kind)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.desk_scale", description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets to load")
    parser.add_argument("--replies", type=int, default=None, help="default: 5 per ticket")
    parser.add_argument("--orgs", type=int, default=50, help="organisations to spread them over")
    parser.add_argument("--heavy", type=int, default=100, help="tickets with 200 entries")
    parser.add_argument("--requests", type=int, default=500, help="measured per endpoint")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured, per endpoint")
    parser.add_argument("--concurrency", type=int, default=2, help="keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="web server worker processes")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the loaded data when its size matches"
    )
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    args = parser.parse_args(argv)
    if args.replies is None:
        args.replies = args.tickets * 5
    if args.orgs < 1 or args.tickets < args.orgs * 10 or args.replies < 0:
        parser.error("--orgs must be positive and --tickets at least 10 per organisation")
    if not 1 <= args.heavy <= args.tickets // 10:
        parser.error("--heavy must be between 1 and a tenth of --tickets")
    if min(args.requests, args.concurrency, args.workers) < 1 or args.warmup < 0:
        parser.error("--requests, --concurrency and --workers must be positive")
    url = urlsplit(args.database_url)
    if url.scheme not in {"postgres", "postgresql"} or url.hostname not in web.LOOPBACK:
        parser.error("--database-url must be a PostgreSQL database on loopback")
    if "bench" not in url.path:
        # The database is emptied without --reuse; refuse anything not obviously made for this.
        parser.error("--database-url must name a database with 'bench' in its name")
    return args


def prepare_data(args: argparse.Namespace) -> list[int]:
    """Load (or keep) the data; answers the ids of the tickets with long timelines."""
    from django.core.management import call_command

    from bench import desk_seed

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f}s", flush=True)
    heavy = desk_seed.heavy_ticket_ids(args.tickets, args.heavy)
    if args.reuse and desk_seed.is_seeded(
        tickets=args.tickets, replies=args.replies, orgs=args.orgs
    ):
        print(f"database already holds {args.tickets:,} tickets in {args.orgs} organisations")
        return heavy
    print(
        f"loading {args.tickets:,} tickets, ~{args.replies:,} replies and notes across "
        f"{args.orgs} organisations ...",
        flush=True,
    )
    call_command("flush", interactive=False, verbosity=0)
    summary = desk_seed.seed(
        tickets=args.tickets,
        replies=args.replies,
        orgs=args.orgs,
        heavy=args.heavy,
        log=lambda line: print(line, flush=True),
    )
    print(
        f"loaded in {summary.seconds:.0f}s: {summary.tickets:,} tickets, {summary.replies:,} "
        f"replies and notes, {summary.events:,} timeline entries",
        flush=True,
    )
    return summary.heavy_tickets


@dataclass(frozen=True)
class People:
    agent: Any
    agent_token: str
    agent_password: str
    limited: Any
    limited_token: str
    limited_password: str
    limited_org: Any


def prepare_people() -> People:
    """An agent who sees every organisation and one limited to a single organisation, each
    with a fresh password and a fresh read token."""
    import secrets

    from buttress.accounts import services as accounts
    from buttress.accounts.models import Role, User
    from buttress.tenancy.models import Organization

    org = Organization.objects.order_by("pk").first()
    if org is None:
        msg = "the bench database has no organisations"
        raise RuntimeError(msg)

    def one(email: str, limited: bool) -> tuple[Any, str, str]:
        password = secrets.token_urlsafe(18)
        user = User.objects.filter(email=email).first()
        if user is None:
            user = accounts.create_user(
                actor=None,
                email=email,
                role=Role.AGENT,
                password=password,
                full_name="Bench",
                limited_to=[org] if limited else (),
            )
        else:
            accounts.set_password(user, actor=None, password=password)
        issued = accounts.create_token(user, actor=None, name="bench", scope="read")
        return user, issued.secret, password

    agent, agent_token, agent_password = one(AGENT_EMAIL, limited=False)
    limited, limited_token, limited_password = one(LIMITED_EMAIL, limited=True)
    return People(agent, agent_token, agent_password, limited, limited_token, limited_password, org)


def check_search_documents(tickets: int, heavy: list[int]) -> None:
    from bench import desk_seed

    sample = desk_seed.sample_ids(tickets, heavy)
    differ = desk_seed.verify_search_documents(sample)
    if differ:
        msg = f"search documents differ from the product's index_ticket for tickets {differ}"
        raise RuntimeError(msg)
    print(f"search documents of {len(sample)} sampled tickets match index_ticket exactly")


def word_counts(words: Words) -> dict[str, int]:
    """How many tickets each search word matches, through the product's own search."""
    from buttress.desk.models import Ticket
    from buttress.desk.search import matching

    return {
        label: matching(Ticket.objects.all(), word, include_internal=True).count()
        for label, word in (
            ("very common", words.very_common),
            ("common", words.common),
            ("rare", words.rare),
        )
    }


def count_queries(
    people: People, heavy: list[int], words: Words, queue: str, ticket_page: str
) -> list[Comparison]:
    """Queries per request: short against full pages, short against long timelines."""
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.querycount import Comparison, Count
    from buttress.desk import services
    from buttress.desk.models import Ticket

    def count(client: Client, label: str, path: str) -> Count:
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        rows = None
        if response.get("Content-Type", "").startswith("application/json"):
            body = response.json()
            rows = len(body["items"]) if isinstance(body, dict) and "items" in body else None
        return Count(label, path, rows, len(captured), response.status_code)

    api = Client(headers={"Authorization": f"Bearer {people.agent_token}"})
    ui = Client()
    ui.force_login(people.agent)
    with transaction.atomic():
        short = services.create_ticket(
            people.limited_org,
            actor=people.agent,
            subject=f"Short ticket {words.rare}",
            description="A ticket with a short timeline.",
        )
        services.add_reply(short, actor=people.agent, body="One reply.")
        # The kinds of entries whose names the page looks up, as on the long timelines.
        long = Ticket.objects.get(pk=heavy[0])
        services.update_ticket(short, actor=people.agent, team=long.team, assignee=long.assignee)
        services.update_ticket(short, actor=people.agent, team=None, assignee=None)
        long_id = long.pk
        rare = f"?{urlencode({'q': words.rare})}"
        common = f"?{urlencode({'q': words.common})}"
        comparisons = [
            Comparison(
                f"UI queue (GET {queue})",
                [
                    count(ui, "one matching ticket", f"{queue}?q={short.reference}"),
                    count(ui, "default open queue", queue),
                    count(ui, "sorted by SLA due", f"{queue}?sort=sla"),
                ],
            ),
            Comparison(
                "API list (GET /api/v1/tickets)",
                [
                    count(api, "one matching ticket", f"/api/v1/tickets?q={short.reference}"),
                    count(api, "limit=50", "/api/v1/tickets?limit=50"),
                ],
            ),
            Comparison(
                "UI search",
                [
                    count(ui, "rare word", f"{queue}{rare}"),
                    count(ui, "common word", f"{queue}{common}"),
                ],
            ),
            Comparison(
                "API search (GET /api/v1/tickets/search)",
                [
                    count(api, "rare word", f"/api/v1/tickets/search{rare}"),
                    count(api, "common word", f"/api/v1/tickets/search{common}"),
                ],
            ),
            Comparison(
                "Ticket page",
                [
                    count(
                        ui,
                        f"{short.events.count()} timeline entries",
                        ticket_page.format(pk=short.pk),
                    ),
                    count(
                        ui,
                        f"{long.events.count()} timeline entries",
                        ticket_page.format(pk=long_id),
                    ),
                ],
            ),
            Comparison(
                "API timeline (GET /api/v1/tickets/{id}/events)",
                [
                    count(
                        api,
                        f"{short.events.count()} entries",
                        f"/api/v1/tickets/{short.pk}/events?limit=200",
                    ),
                    count(api, "200 entries", f"/api/v1/tickets/{long_id}/events?limit=200"),
                ],
            ),
        ]
        transaction.set_rollback(True)
    return comparisons


def second_page(server: web.Server, path: str, cookie: str) -> str:
    """The UI queue's next page, as its own "Next" link gives it."""
    import http.client

    conn = http.client.HTTPConnection(web.HOST, server.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = conn.getresponse()
        page = response.read().decode("utf-8", errors="replace")
    finally:
        conn.close()
    match = NEXT_CURSOR.search(page)
    if response.status != 200 or match is None:
        msg = f"GET {path} answered {response.status} without a next page link"
        raise RuntimeError(msg)
    split = urlsplit(path)
    query = split.query + ("&" if split.query else "") + urlencode({"cursor": match.group(1)})
    return f"{split.path}?{query}"


def endpoints(
    *,
    server: web.Server,
    baseline: str,
    people: People,
    cookies: tuple[str, str],
    org_ids: list[int],
    heavy: list[int],
    words: Words,
    queue: str,
    ticket_page: str,
) -> list[dict[str, Any]]:
    agent_cookie, limited_cookie = cookies
    ui = {"Cookie": f"sessionid={agent_cookie}"}
    ui_limited = {"Cookie": f"sessionid={limited_cookie}"}
    api = {"Authorization": f"Bearer {people.agent_token}", "Accept": "application/json"}
    api_limited = {"Authorization": f"Bearer {people.limited_token}", "Accept": "application/json"}
    filtered = [
        f"org={org}&status={status}&priority={priority}"
        for org in org_ids[:10]
        for status, priority in (("open", "P2"), ("in_progress", "P3"), ("new", "P1"))
    ]
    api_filtered = [q.replace("org=", "organization=") + "&limit=50" for q in filtered]

    def q(word: str) -> str:
        return urlencode({"q": word})

    return [
        {"name": "baseline " + baseline, "paths": [baseline]},
        {"name": "queue ui default open queue", "paths": [queue], "headers": ui},
        {
            "name": "queue ui org+status+priority",
            "paths": [f"{queue}?{f}" for f in filtered],
            "headers": ui,
        },
        {"name": "queue ui sorted by SLA due", "paths": [f"{queue}?sort=sla"], "headers": ui},
        {
            "name": "queue ui second page (keyset)",
            "paths": [
                second_page(server, queue, agent_cookie),
                second_page(server, f"{queue}?sort=sla", agent_cookie),
            ],
            "headers": ui,
        },
        {"name": "queue ui limited agent", "paths": [queue], "headers": ui_limited},
        {"name": "queue api first page", "paths": ["/api/v1/tickets?limit=50"], "headers": api},
        {
            "name": "queue api org+status+priority",
            "paths": [f"/api/v1/tickets?{f}" for f in api_filtered],
            "headers": api,
        },
        {
            "name": "queue api sorted by SLA due",
            "paths": ["/api/v1/tickets?sort=sla&limit=50"],
            "headers": api,
        },
        {
            "name": "queue api later pages (cursor)",
            "discover_from": "/api/v1/tickets?status=open&limit=50",
            "discover_pages": 20,
            "headers": api,
        },
        {"name": "search ui rare word", "paths": [f"{queue}?{q(words.rare)}"], "headers": ui},
        {"name": "search ui common word", "paths": [f"{queue}?{q(words.common)}"], "headers": ui},
        {
            "name": "search ui limited agent common",
            "paths": [f"{queue}?{q(words.common)}"],
            "headers": ui_limited,
        },
        {
            "name": "search ui limited very common",
            "paths": [f"{queue}?{q(words.very_common)}"],
            "headers": ui_limited,
        },
        {
            "name": "search api rare word",
            "paths": [f"/api/v1/tickets/search?{q(words.rare)}"],
            "headers": api,
        },
        {
            "name": "search api common word",
            "paths": [f"/api/v1/tickets/search?{q(words.common)}"],
            "headers": api,
        },
        {
            "name": "search api limited common",
            "paths": [f"/api/v1/tickets/search?{q(words.common)}"],
            "headers": api_limited,
        },
        {
            "name": "search api very common word",
            "paths": [f"/api/v1/tickets/search?{q(words.very_common)}"],
            "headers": api,
        },
        {
            "name": "ticket ui 200 timeline entries",
            "paths": [ticket_page.format(pk=pk) for pk in heavy],
            "headers": ui,
        },
        {
            "name": "ticket api 200 events",
            "paths": [f"/api/v1/tickets/{pk}/events?limit={TIMELINE_PAGE}" for pk in heavy],
            "headers": api,
        },
        {
            "name": "ticket api detail",
            "paths": [f"/api/v1/tickets/{pk}" for pk in heavy],
            "headers": api,
        },
    ]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    env = configure_environment(args.database_url)
    ensure_database(args.database_url)

    import django

    django.setup()
    from django.db import connections
    from django.urls import reverse

    from bench import desk_seed
    from buttress.tenancy.models import Organization

    heavy = prepare_data(args)
    check_search_documents(args.tickets, heavy)
    words = desk_seed.search_words()
    counts = word_counts(words)
    print(
        "search words (tickets matched): "
        + ", ".join(
            f"{label} {getattr(words, label.replace(' ', '_'))!r} {n:,}"
            for label, n in counts.items()
        )
    )
    people = prepare_people()
    queue = reverse("desk:list")
    ticket_page = reverse("desk:detail", kwargs={"pk": 1}).replace("/1/", "/{pk}/")
    login_path = reverse("accounts:login")
    comparisons = count_queries(people, heavy, words, queue, ticket_page)
    org_ids = list(
        Organization.objects.filter(slug__startswith=desk_seed.ORG_SLUG_PREFIX)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    connections.close_all()

    server = web.start(
        env=env, workers=args.workers, log_dir=ROOT / "var" / "bench", ready_path=login_path
    )
    try:
        print(f"server: {' '.join(server.command)} (pid {server.process.pid})")
        baseline = choose_baseline(server.port)
        cookies = (
            web.login_session(
                server, login_path=login_path, email=AGENT_EMAIL, password=people.agent_password
            ),
            web.login_session(
                server,
                login_path=login_path,
                email=LIMITED_EMAIL,
                password=people.limited_password,
            ),
        )
        config = {
            "host": web.HOST,
            "port": server.port,
            "server_pid": server.process.pid,
            "database_name": urlsplit(args.database_url).path.lstrip("/"),
            "concurrency": args.concurrency,
            "requests": args.requests,
            "warmup": args.warmup,
            "endpoints": endpoints(
                server=server,
                baseline=baseline,
                people=people,
                cookies=cookies,
                org_ids=org_ids,
                heavy=heavy,
                words=words,
                queue=queue,
                ticket_page=ticket_page,
            ),
        }
        total = len(config["endpoints"]) * (args.requests + args.warmup)
        print(
            f"load: {len(config['endpoints'])} endpoints x ({args.warmup} warm-up + "
            f"{args.requests} measured), concurrency {args.concurrency}, ~{total:,} requests",
            flush=True,
        )
        started = time.perf_counter()
        load_before = os.getloadavg()
        results = run_loadgen(config)
        results["load_average_before"] = load_before
        results["load_average_after"] = os.getloadavg()
        print(
            f"load finished in {time.perf_counter() - started:.0f}s; machine load average "
            f"{load_before[0]:.1f} before, {results['load_average_after'][0]:.1f} after "
            f"({os.cpu_count()} CPUs)"
        )
    finally:
        server.stop()

    print_counts(comparisons)
    print_table(results["endpoints"], target_of=target_of)
    outcome = verdicts(results["endpoints"], comparisons, target_of=target_of)
    path = (
        args.json
        or ROOT / "bench" / "results" / f"desk_scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "tickets": args.tickets,
        "replies": args.replies,
        "orgs": args.orgs,
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "search_words": {**vars(words), "matches": counts},
        "results": results,
        "query_counts": [
            {"title": c.title, "constant": c.constant, "counts": [vars(n) for n in c.counts]}
            for c in comparisons
        ],
        "verdicts": [{"check": name, "pass": ok} for name, ok in outcome],
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0 if all(ok for _, ok in outcome) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
