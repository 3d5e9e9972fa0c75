"""The `buttress` command: run, migrate, administer and inspect an installation.

Django is imported only inside commands, after DJANGO_SETTINGS_MODULE is set, and errors are
reported as one line on stderr with a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buttress.settings")

DEFAULT_BIND = "127.0.0.1:8000"
# The processes `buttress run` starts, each as `buttress <kind>`; later kinds append here.
# intake only when BUTTRESS_INTAKE_BIND is not empty, smtpd only when BUTTRESS_SMTPD_BIND is set.
PROCESS_KINDS: list[str] = ["web", "worker", "scheduler", "runner", "intake", "smtpd"]
MAX_EXPIRES_DAYS = 36_500


class ButtressGroup(click.Group):
    """Reports every failure as a single `Error: ...` line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name or "buttress", complete_var, standalone_mode=False, **extra
            )
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            code = exc.exit_code
        except click.Abort:
            click.echo("Aborted.", err=True)
            code = 1
        else:
            code = result if isinstance(result, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: click.Context) -> Any:
        from django.core.exceptions import ImproperlyConfigured, ValidationError
        from django.db import DatabaseError

        try:
            return super().invoke(ctx)
        except DatabaseError as exc:
            raise click.ClickException(f"database: {_first_line(exc)}") from exc
        except ValidationError as exc:
            raise click.ClickException(_validation_message(exc)) from exc
        except (ImproperlyConfigured, ValueError) as exc:
            raise click.ClickException(f"configuration: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _validation_message(exc: Any) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def _setup() -> None:
    import django

    django.setup()


def parse_bind(value: str) -> tuple[str, int]:
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        msg = f"--bind must be HOST:PORT (for example {DEFAULT_BIND}), not {value!r}"
        raise click.BadParameter(msg)
    return host, int(port)


def _bind_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--bind",
        default=DEFAULT_BIND,
        show_default=True,
        help="Address and port to listen on.",
        callback=lambda ctx, param, value: parse_bind(value),
    )(function)


@click.group(cls=ButtressGroup)
def cli() -> None:
    """buttress: service desk, CMDB and operations for service providers."""


# --- processes -------------------------------------------------------------------------------


@cli.command()
@_bind_option
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def web(bind: tuple[str, int], workers: int) -> None:
    """Serve the web UI and API with gunicorn."""
    from django.conf import settings

    _prepare_metrics_dir(settings.DATA_DIR)
    _setup()
    from django.core.management import call_command

    from buttress.ops.webserver import serve

    call_command("collectstatic", interactive=False, verbosity=0)
    serve(
        bind=f"[{bind[0]}]:{bind[1]}" if ":" in bind[0] else f"{bind[0]}:{bind[1]}", workers=workers
    )


def _prepare_metrics_dir(data_dir: Path) -> None:
    """Point prometheus_client's multi-process mode at a fresh directory.

    Must run before anything imports prometheus_client; files left by a previous run would
    add its counts to this one's.
    """
    directory = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or data_dir / "prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


@cli.command()
def worker() -> None:
    """Run background tasks from the configured queues."""
    _setup()
    from django.conf import settings
    from django.core.management import call_command

    queues = settings.TASK_QUEUES
    if settings.TASK_BACKEND == "db":
        call_command(
            "db_worker", queue_name=",".join(queues), reload=False, interval=1.0, verbosity=1
        )
    elif settings.TASK_BACKEND == "rq":
        call_command("rqworker", *queues, job_class="django_tasks_rq.Job", with_scheduler=True)
    else:
        msg = "BUTTRESS_TASK_BACKEND=immediate runs tasks in place; there is no queue to work"
        raise click.ClickException(msg)


@cli.command()
@click.option("--interval", type=click.FloatRange(min=0.05), help="Seconds between loops.")
def scheduler(interval: float | None) -> None:
    """Claim due timers and enqueue their tasks, every SCHEDULER_INTERVAL seconds."""
    _setup()
    from buttress.scheduler.loop import Scheduler

    Scheduler(interval=interval).run()


@cli.command()
@click.option(
    "--bind",
    default="127.0.0.1:2525",
    show_default=True,
    help="Address and port to listen on.",
    callback=lambda ctx, param, value: parse_bind(value),
)
def smtpd(bind: tuple[str, int]) -> None:
    """Take in mail over SMTP for the domains in BUTTRESS_SMTPD_DOMAINS."""
    _setup()
    from buttress.desk import smtpd as listener

    if not listener.accepted_recipients():
        _fail("BUTTRESS_SMTPD_DOMAINS is empty: name the domains or addresses to take mail for")
    _check_port_free(*bind)
    click.echo(f"Listening for mail on {bind[0]}:{bind[1]}.", err=True)
    listener.run(*bind)


@cli.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1_000_000),
    help="Checks at once (default MONITORING_RUNNER_CONCURRENCY; unset or 0: sized to the "
    "monitors held and their time-outs).",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=2.0, max=3600.0),
    help="Lease period in seconds: a dead runner's monitors move to the others within it "
    "(default MONITORING_RUNNER_LEASE).",
)
@click.option(
    "--flush",
    type=click.FloatRange(min=0.05, max=60.0),
    help="Seconds between batches of results written (default MONITORING_RUNNER_FLUSH).",
)
def runner(concurrency: int | None, lease: float | None, flush: float | None) -> None:
    """Check the monitors this runner leases until SIGTERM; several may run at once on
    PostgreSQL, one on SQLite."""
    _setup()
    from buttress.monitoring.runner import Runner

    _one_runner_on_sqlite(lease)
    Runner(concurrency=concurrency, lease=lease, flush=flush).run()


def _one_runner_on_sqlite(lease: float | None) -> None:
    """On SQLite (one machine, one writer at a time) only one runner runs: refuse to start
    beside a live one. A runner of this host whose process is gone does not count."""
    import socket
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection

    from buttress.lib.timeutil import now
    from buttress.monitoring.leases import hold_for
    from buttress.monitoring.models import Runner as RunnerRow

    if connection.vendor != "sqlite":
        return
    period = timedelta(seconds=lease or settings.MONITORING_RUNNER_LEASE)
    at = now()
    host = socket.gethostname()
    for other in RunnerRow.objects.filter(seen_at__gte=at - hold_for(period)):
        if other.host == host and not _process_alive(other.pid):
            continue
        seen = (at - other.seen_at).total_seconds()
        _fail(
            f"another runner ({other.host}, pid {other.pid}, seen {seen:.0f} s ago) is checking "
            "the monitors of this SQLite database, which runs one runner; stop it first, or use "
            "PostgreSQL to run several"
        )


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@cli.command()
@click.option(
    "--bind",
    default=None,
    help="Address and port to listen on (default BUTTRESS_INTAKE_BIND, 127.0.0.1:8001).",
)
@click.option(
    "--window",
    type=click.FloatRange(min=0.0, max=100.0),
    help="Milliseconds a batch waits for more requests (default BUTTRESS_INTAKE_WINDOW_MS).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(1, 10_000),
    help="Requests written in one transaction at most (default BUTTRESS_INTAKE_MAX_BATCH).",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Intake processes sharing the address (SO_REUSEPORT), each with its own database "
    "connection; more than one needs PostgreSQL.",
)
@click.option("--reuse-port", is_flag=True, hidden=True)
def intake(
    bind: str | None,
    window: float | None,
    max_batch: int | None,
    processes: int,
    reuse_port: bool,
) -> None:
    """Answer heartbeat pings and alert webhooks, writing each few milliseconds' requests in
    one transaction; several may run against one PostgreSQL database."""
    _setup()
    from django.conf import settings
    from django.db import connection

    from buttress.intake.server import run as serve

    address = bind or settings.INTAKE_BIND or "127.0.0.1:8001"
    host, port = parse_bind(address)
    window_ms = settings.INTAKE_WINDOW_MS if window is None else window
    max_batch = max_batch or settings.INTAKE_MAX_BATCH
    if processes > 1:
        if connection.vendor != "postgresql":
            raise click.ClickException(
                "--processes above 1 needs PostgreSQL: SQLite takes one writer at a time"
            )
        _check_port_free(host, port)
        _serve_intake_processes(address, processes, window_ms=window_ms, max_batch=max_batch)
        return
    if not reuse_port:
        _check_port_free(host, port)
    click.echo(f"Taking in pings and alerts on {host}:{port}.", err=True)
    serve(host, port, window=window_ms / 1000, max_batch=max_batch, reuse_port=reuse_port)


def _serve_intake_processes(
    address: str, processes: int, *, window_ms: float, max_batch: int
) -> None:
    """Run ``processes`` intake processes on one address until SIGTERM or SIGINT; the kernel
    spreads the connections among them (SO_REUSEPORT). One dying stops the others."""
    from buttress.ops.supervisor import ChildDied, Supervisor

    argv = [
        sys.executable,
        "-m",
        "buttress.cli",
        "intake",
        "--bind",
        address,
        "--window",
        str(window_ms),
        "--max-batch",
        str(max_batch),
        "--reuse-port",
    ]
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = os.environ["DJANGO_SETTINGS_MODULE"]
    click.echo(f"Taking in pings and alerts on {address} with {processes} processes.", err=True)
    supervisor = Supervisor(
        [(f"intake {number}", argv) for number in range(1, processes + 1)],
        env=env,
        say=lambda line: click.echo(line, err=True),
    )
    try:
        supervisor.run()
    except ChildDied as exc:
        raise click.ClickException(f"{exc}; stopped the other intake processes") from exc


@cli.command()
@_bind_option
@click.option("--demo", is_flag=True, help="Load demo data (for local evaluation) first.")
def run(bind: tuple[str, int], demo: bool) -> None:
    """Migrate, then run web, worker, scheduler, runner and intake together until Ctrl-C."""
    _setup()
    from django.conf import settings
    from django.db import connections

    from buttress.ops.supervisor import ChildDied, Supervisor

    host, port = bind
    _check_port_free(host, port)
    applied = _migrate()
    if applied:
        click.echo(f"Applied {applied} migrations.")
    token = None
    url_host = f"[{host}]" if ":" in host else host
    kinds = process_kinds(
        settings.TASK_BACKEND, smtpd=bool(settings.SMTPD_BIND), intake=bool(settings.INTAKE_BIND)
    )
    if demo:
        from buttress.demo.loader import load_demo

        loaded = load_demo(
            web_url=f"http://{url_host}:{port}",
            intake_url=f"http://{settings.INTAKE_BIND}" if "intake" in kinds else "",
        )
        click.echo(f"Demo data: {loaded.describe()}.")
        token = _demo_token()
    connections.close_all()

    env = dict(os.environ)
    env["BUTTRESS_DATA_DIR"] = str(settings.DATA_DIR)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(settings.DATA_DIR / "prometheus")
    env["DJANGO_SETTINGS_MODULE"] = os.environ["DJANGO_SETTINGS_MODULE"]
    me = [sys.executable, "-m", "buttress.cli"]
    children = []
    if "intake" in kinds:
        _check_port_free(*parse_bind(settings.INTAKE_BIND))
    for kind in kinds:
        argv = [*me, kind]
        if kind == "web":
            argv += ["--bind", f"{host}:{port}"]
        if kind == "intake":
            argv += ["--bind", settings.INTAKE_BIND]
        if kind == "smtpd":
            argv += ["--bind", settings.SMTPD_BIND]
        children.append((kind, argv))

    click.echo(f"buttress is starting on http://{url_host}:{port}/  (data in {settings.DATA_DIR})")
    if "intake" in kinds:
        click.echo(f"Pings and alert webhooks are also taken in on http://{settings.INTAKE_BIND}/")
    if demo:
        _print_demo_logins(token)
    else:
        click.echo("Open the URL to create the first administrator.")
    click.echo("Press Ctrl-C to stop.")
    supervisor = Supervisor(children, env=env, say=lambda line: click.echo(line, err=True))
    try:
        supervisor.run()
    except ChildDied as exc:
        raise click.ClickException(f"{exc}; stopped the other processes") from exc
    click.echo("Stopped.")


def process_kinds(task_backend: str, *, smtpd: bool = False, intake: bool = True) -> list[str]:
    # The immediate backend runs tasks where they are enqueued; a worker would have no queue.
    # The SMTP listener and the intake process run only where they are configured to listen.
    return [
        k
        for k in PROCESS_KINDS
        if not (k == "worker" and task_backend == "immediate")
        and not (k == "smtpd" and not smtpd)
        and not (k == "intake" and not intake)
    ]


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            raise click.ClickException(msg) from exc


def _demo_token() -> str:
    from buttress.accounts import services as accounts
    from buttress.accounts.models import User
    from buttress.demo.catalogue import LOGINS
    from buttress.lib.timeutil import now

    admin = User.objects.get(email=LOGINS[0].email)
    issued = accounts.create_token(
        admin,
        actor=None,
        name=f"buttress run {now():%Y-%m-%d %H:%M}",
        scope="write",
        expires_at=now() + timedelta(days=7),
    )
    return issued.secret


def _print_demo_logins(token: str | None) -> None:
    from buttress.demo.catalogue import DEMO_PASSWORD, LOGINS

    click.echo("")
    click.echo("Demo data is for local evaluation only; do not expose this installation.")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for login in LOGINS:
        click.echo(f"  {login.email:<26} {login.role}")
    if token:
        click.echo(f"API token for {LOGINS[0].email} (write, 7 days): {token}")
    click.echo("")


# --- database --------------------------------------------------------------------------------


def _migrate() -> int:
    """Apply every unapplied migration with a progress bar; returns how many were applied."""
    from django.core.management import call_command
    from django.core.management.commands.migrate import Command as MigrateCommand
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return 0
    console = Console(stderr=True)
    with Progress(
        TextColumn("Migrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("", total=len(plan))

        class ProgressMigrate(MigrateCommand):
            def migration_progress_callback(
                self, action: str, migration: Any = None, fake: bool = False
            ) -> None:
                if action == "apply_start":
                    progress.update(bar, description=f"{migration.app_label}.{migration.name}")
                elif action == "apply_success":
                    progress.advance(bar)

        call_command(ProgressMigrate(), interactive=False, verbosity=0)
    return len(plan)


@cli.command()
def migrate() -> None:
    """Create or update the database schema."""
    _setup()
    applied = _migrate()
    click.echo(f"Applied {applied} migrations." if applied else "No migrations to apply.")


@cli.command()
def demo() -> None:
    """Load the demo organisations, CMDB, monitors and logins (for local evaluation); idempotent.

    The demo's monitors check the web server at its default address (and the intake process
    at BUTTRESS_INTAKE_BIND); `buttress run --demo` uses the addresses it serves on."""
    _setup()
    from django.conf import settings

    from buttress.demo.loader import load_demo

    intake_url = f"http://{settings.INTAKE_BIND}" if settings.INTAKE_BIND else ""
    click.echo(f"Demo data: {load_demo(intake_url=intake_url).describe()}.")


@cli.command()
def check() -> None:
    """Check the database, migrations and scheduler; exit 1 if any check fails."""
    _setup()
    from buttress.ops.checks import readiness

    checks = readiness()
    for item in checks:
        status = click.style("OK  ", fg="green") if item.ok else click.style("FAIL", fg="red")
        click.echo(f"{status} {item.name:<11} {item.detail}")
    if not all(item.ok for item in checks):
        click.get_current_context().exit(1)


# --- accounts --------------------------------------------------------------------------------


@cli.command()
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--name", "full_name", default="", help="Full name.")
def createadmin(email: str, password_stdin: bool, full_name: str) -> None:
    """Create a provider administrator."""
    _setup()
    from buttress.accounts import services as accounts
    from buttress.accounts.models import Role

    generated = False
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password, generated = accounts.generate_password(), True
    user = accounts.create_user(
        actor=None, email=email, role=Role.ADMIN, password=password, full_name=full_name
    )
    click.echo(f"Created administrator {user.email}.")
    if generated:
        click.echo(f"Password (shown once): {password}")


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", default="read", show_default=True, help="read or write.")
@click.option(
    "--expires-days",
    # A century is already "never"; past about 2.9 million days the date overflows.
    type=click.IntRange(min=1, max=MAX_EXPIRES_DAYS),
    help="Expire after this many days.",
)
def token_create(email: str, name: str, scope: str, expires_days: int | None) -> None:
    """Create an API token and print it once."""
    _setup()
    from buttress.accounts import services as accounts
    from buttress.accounts.models import ApiToken, User
    from buttress.lib.timeutil import now

    if scope not in ApiToken.Scope.values:
        _fail(f"--scope must be read or write, not {scope!r}")
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        _fail(f"no user with email {email!r}")
    if not user.is_active:
        _fail(f"{user.email} is deactivated")
    expires_at = now() + timedelta(days=expires_days) if expires_days else None
    issued = accounts.create_token(user, actor=None, name=name, scope=scope, expires_at=expires_at)
    click.echo(issued.secret)


# --- service desk ----------------------------------------------------------------------------


@cli.group()
def tickets() -> None:
    """Service desk tickets."""


@tickets.command("reindex")
def tickets_reindex() -> None:
    """Rewrite every ticket's search document (after a restore or a direct import)."""
    _setup()
    from buttress.desk.search import rebuild_index

    count = rebuild_index()
    click.echo(f"Indexed {count} ticket{'' if count == 1 else 's'}.")


@cli.group()
def mail() -> None:
    """Mail into the service desk."""


@mail.command("ingest")
@click.argument("sources", nargs=-1, type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--batch",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Messages taken in with one commit (each still has its own outcome).",
)
def mail_ingest(sources: tuple[Path, ...], batch: int) -> None:
    """Take in messages: files, Maildir folders (their new/ is emptied into cur/), or one
    message on standard input (no argument, or -). A mail server can pipe each message here.
    A message over the size limit is left where it is, and the command ends with an error."""
    _setup()
    from buttress.desk.services.inbound import MessageTooLarge, receive_many

    if not sources or sources == (Path("-"),):
        items: list[tuple[str, Path | None, Path | None]] = [("stdin", None, None)]
    else:
        items = []
        for source in sources:
            if source.is_dir():
                new, cur = source / "new", source / "cur"
                if not new.is_dir():
                    _fail(f"{source} is not a Maildir (no new/ folder)")
                cur.mkdir(exist_ok=True)
                items += [(entry.name, entry, cur) for entry in sorted(new.iterdir())]
            elif source.is_file():
                items.append((str(source), source, None))
            else:
                _fail(f"no such file or folder: {source}")
    refused: list[str] = []
    for first in range(0, len(items), batch):
        chunk = items[first : first + batch]
        raws = [
            sys.stdin.buffer.read() if path is None else path.read_bytes() for _, path, _ in chunk
        ]
        for (label, path, read), answer in zip(chunk, receive_many(raws), strict=True):
            if isinstance(answer, MessageTooLarge):
                refused.append(f"{label}: {' '.join(answer.messages)}")
                continue
            where = f" {answer.ticket.reference}" if answer.ticket is not None else ""
            note = f" ({answer.reason})" if answer.reason else ""
            click.echo(f"{label}: {answer.status}{where}{note}")
            if path is not None and read is not None:
                path.rename(read / f"{path.name}:2,S")
    if refused:
        _fail("\n".join(refused))


@mail.command("poll")
@click.option("--mailbox", "name", help="Only this mailbox (its name); default every enabled one.")
def mail_poll(name: str | None) -> None:
    """Poll the configured IMAP mailboxes once, now."""
    _setup()
    from django.core.exceptions import ValidationError

    from buttress.desk.models import Mailbox
    from buttress.desk.services import mailboxes

    chosen = (
        Mailbox.objects.filter(is_enabled=True)
        if name is None
        else Mailbox.objects.filter(name=name)
    )
    found = list(chosen)
    if not found:
        _fail(f"no mailbox named {name!r}" if name else "no enabled mailbox is configured")
    failed = False
    for mailbox in found:
        try:
            result = mailboxes.poll(mailbox)
        except ValidationError as exc:
            click.echo(f"Error: {' '.join(exc.messages)}", err=True)
            failed = True
            continue
        click.echo(f"{mailbox.name}: {result.describe()}")
    if failed:
        click.get_current_context().exit(1)


# --- SLA -------------------------------------------------------------------------------------


@cli.group()
def sla() -> None:
    """SLA clocks."""


@sla.command("replay")
@click.option("--org", "org_slug", help="Only this organisation's tickets (its slug).")
@click.option(
    "--since",
    help="Also tickets resolved or closed since this date (YYYY-MM-DD); open ones always.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--limit", default=50, show_default=True, help="Changed clocks to list.")
def sla_replay(org_slug: str | None, since: str | None, dry_run: bool, limit: int) -> None:
    """Rebuild clocks from ticket history under the current calendars, policies and rules."""
    _setup()
    from datetime import UTC, datetime

    from buttress.sla.replay import replay
    from buttress.tenancy.models import Organization

    organization = None
    if org_slug is not None:
        organization = Organization.objects.filter(slug=org_slug.strip().lower()).first()
        if organization is None:
            _fail(f"no organisation with slug {org_slug!r}")
    since_at = None
    if since is not None:
        try:
            since_at = datetime.strptime(since.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            _fail(f"--since must be a date written as YYYY-MM-DD, not {since!r}")
    report = replay(organization=organization, since=since_at, dry_run=dry_run)
    for change in report.changes[: max(limit, 0)]:
        click.echo(f"{change.ticket} {change.clock}: {change.before} -> {change.after}")
    if len(report.changes) > limit:
        click.echo(f"... and {len(report.changes) - limit} more changed clocks")
    click.echo(("Dry run: " if dry_run else "") + report.describe(dry_run=dry_run))


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def main() -> None:
    cli.main(prog_name="buttress")


if __name__ == "__main__":
    main()
