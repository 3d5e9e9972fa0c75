"""Asset list benchmark: the API list and the UI list page over 100,000 assets on PostgreSQL.

Targets: an API page of 50 items answers with p95 under 50 ms, the UI asset list page with p95
under 150 ms, measured by a load generator on loopback, and the number of database queries per
list request does not depend on the number of rows on the page.

    python -m bench.assets_list                       # the full run: 100,000 assets, 50 orgs
    python -m bench.assets_list --assets 2000 --orgs 5 --requests 300   # a quick check

The database (``buttress_bench`` by default) is created, migrated and seeded on first use and
reused while its size matches; ``--reseed`` empties and fills it again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bench import server as web
from bench.report import print_counts, print_table, verdicts

if TYPE_CHECKING:
    from bench.querycount import Comparison

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/buttress_bench"
AGENT_EMAIL = "bench-agent@buttress.example"
API_LIST = "/api/v1/assets"
UI_LIST_FALLBACK = "/assets/"
UI_ORG_PARAM = "org"
BASELINE_CANDIDATES = ("/healthz", "/healthz/")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.assets_list", description=__doc__)
    parser.add_argument("--assets", type=int, default=100_000, help="assets to seed")
    parser.add_argument("--orgs", type=int, default=50, help="organisations to spread them over")
    parser.add_argument("--requests", type=int, default=2_000, help="measured per endpoint")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured, per endpoint")
    parser.add_argument("--concurrency", type=int, default=4, help="keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="web server worker processes")
    parser.add_argument("--cursor-pages", type=int, default=100, help="pages to walk by cursor")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--reseed", action="store_true", help="empty and seed the database again")
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    args = parser.parse_args(argv)
    if args.assets < args.orgs or args.orgs < 1:
        parser.error("--assets must be at least --orgs, and --orgs at least 1")
    if min(args.requests, args.concurrency, args.workers, args.cursor_pages) < 1:
        parser.error("--requests, --concurrency, --workers and --cursor-pages must be positive")
    url = urlsplit(args.database_url)
    if url.scheme not in {"postgres", "postgresql"} or url.hostname not in web.LOOPBACK:
        parser.error("--database-url must be a PostgreSQL database on loopback")
    if "bench" not in url.path:
        # The database is emptied on --reseed; refuse anything not obviously made for this.
        parser.error("--database-url must name a database with 'bench' in its name")
    return args


def configure_environment(database_url: str) -> dict[str, str]:
    """Set this process's environment before Django loads; return the server's."""
    data_dir = ROOT / "var" / "bench"
    # WhiteNoise warns on every start when the collected-static directory is missing.
    (data_dir / "static").mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "buttress.settings",
        "BUTTRESS_DATA_DIR": str(data_dir),
        "BUTTRESS_DEBUG": "0",
        "BUTTRESS_LOG_LEVEL": "WARNING",
        "BUTTRESS_TASK_BACKEND": "db",
    }
    os.environ.update(env)
    # Only the server's workers share metrics; this process keeps its own in memory.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus")}


def ensure_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    url = urlsplit(database_url)
    name = url.path.lstrip("/")
    maintenance = url._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def prepare_data(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    from bench import seed

    call_command("migrate", interactive=False, verbosity=0)
    if not args.reseed and seed.is_seeded(assets=args.assets, orgs=args.orgs):
        print(f"database already holds {args.assets:,} assets in {args.orgs} organisations")
        return
    print(f"seeding {args.assets:,} assets across {args.orgs} organisations ...", flush=True)
    call_command("flush", interactive=False, verbosity=0)
    summary = seed.seed(assets=args.assets, orgs=args.orgs)
    print(
        f"seeded in {summary.seconds:.1f}s: {summary.organizations} organisations, "
        f"{summary.sites} sites, {summary.tags} tags, {summary.assets:,} assets, "
        f"{summary.asset_tags:,} asset tags, {summary.relations:,} relations"
    )


def prepare_agent() -> tuple[Any, str, str]:
    """The agent user, a fresh read token for it and a fresh password to sign in with."""
    import secrets

    from buttress.accounts import services as accounts
    from buttress.accounts.models import Role, User

    password = secrets.token_urlsafe(18)
    agent = User.objects.filter(email=AGENT_EMAIL).first()
    if agent is None:
        agent = accounts.create_user(
            actor=None, email=AGENT_EMAIL, role=Role.AGENT, password=password, full_name="Bench"
        )
    else:
        accounts.set_password(agent, actor=None, password=password)
    issued = accounts.create_token(agent, actor=None, name="bench", scope="read")
    return agent, issued.secret, password


def url_of(name: str, fallback: str) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


def count_queries(agent: Any, token: str, ui_list: str) -> list[Comparison]:
    from bench import querycount
    from buttress.tenancy.models import Organization

    big_org = Organization.objects.order_by("pk").first()
    if big_org is None:
        msg = "the bench database has no organisations"
        raise RuntimeError(msg)
    return querycount.compare(
        user=agent, token=token, big_org=big_org, ui_list=ui_list, ui_org_param=UI_ORG_PARAM
    )


def choose_baseline(port: int) -> str:
    for path in BASELINE_CANDIDATES:
        if web.get_status(port, path) == 200:
            return path
    msg = f"no baseline endpoint answers 200 (tried {', '.join(BASELINE_CANDIDATES)})"
    raise RuntimeError(msg)


def loadgen_config(
    args: argparse.Namespace,
    *,
    port: int,
    baseline: str,
    token: str,
    session_cookie: str,
    org_ids: list[int],
    ui_list: str,
    server_pid: int,
) -> dict[str, Any]:
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    cookie = {"Cookie": f"sessionid={session_cookie}"}
    # The last organisation is walked by cursor, so the filtered pages include deep pages.
    return {
        "host": web.HOST,
        "port": port,
        "server_pid": server_pid,
        "database_name": urlsplit(args.database_url).path.lstrip("/"),
        "concurrency": args.concurrency,
        "requests": args.requests,
        "warmup": args.warmup,
        "endpoints": [
            {"name": "baseline " + baseline, "paths": [baseline]},
            {"name": "api first page", "paths": [f"{API_LIST}?limit=50"], "headers": bearer},
            {
                "name": "api later pages (cursor)",
                "discover_from": f"{API_LIST}?limit=50",
                "discover_pages": args.cursor_pages,
                "headers": bearer,
            },
            {
                "name": "api filtered by organisation",
                "paths": [f"{API_LIST}?organization={pk}&limit=50" for pk in org_ids],
                "headers": bearer,
            },
            {
                "name": "api organisation pages (cursor)",
                "discover_from": f"{API_LIST}?organization={org_ids[-1]}&limit=50",
                "discover_pages": args.cursor_pages,
                "headers": bearer,
            },
            {"name": "ui list first page", "paths": [ui_list], "headers": cookie},
            {
                "name": "ui list filtered by organisation",
                "paths": [f"{ui_list}?{UI_ORG_PARAM}={pk}" for pk in org_ids],
                "headers": cookie,
            },
        ],
    }


def run_loadgen(config: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
        config_path = handle.name
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", config_path],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    finally:
        Path(config_path).unlink(missing_ok=True)
    if done.returncode != 0:
        msg = f"the load generator failed ({done.returncode}):\n{done.stderr[-3000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    env = configure_environment(args.database_url)
    ensure_database(args.database_url)

    import django

    django.setup()
    from django.db import connections

    from buttress.tenancy.models import Organization

    prepare_data(args)
    agent, token, password = prepare_agent()
    ui_list = url_of("assets:list", UI_LIST_FALLBACK)
    login_path = url_of("accounts:login", "/accounts/login/")
    comparisons = count_queries(agent, token, ui_list)
    org_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    connections.close_all()

    server = web.start(
        env=env, workers=args.workers, log_dir=ROOT / "var" / "bench", ready_path=login_path
    )
    try:
        print(f"server: {' '.join(server.command)} (pid {server.process.pid})")
        baseline = choose_baseline(server.port)
        session_cookie = web.login_session(
            server, login_path=login_path, email=agent.email, password=password
        )
        config = loadgen_config(
            args,
            port=server.port,
            baseline=baseline,
            token=token,
            session_cookie=session_cookie,
            org_ids=org_ids,
            ui_list=ui_list,
            server_pid=server.process.pid,
        )
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
    print_table(results["endpoints"])
    outcome = verdicts(results["endpoints"], comparisons)
    write_results(args, results, comparisons, outcome)
    return 0 if all(ok for _, ok in outcome) else 1


def write_results(
    args: argparse.Namespace,
    results: dict[str, Any],
    comparisons: list[Comparison],
    outcome: list[tuple[str, bool]],
) -> None:
    path = (
        args.json
        or ROOT / "bench" / "results" / f"assets_list-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "assets": args.assets,
        "orgs": args.orgs,
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "results": results,
        "query_counts": [
            {"title": c.title, "constant": c.constant, "counts": [vars(n) for n in c.counts]}
            for c in comparisons
        ],
        "verdicts": [{"check": name, "pass": ok} for name, ok in outcome],
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
