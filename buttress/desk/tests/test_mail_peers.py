"""Mail through real peers: a Debian dovecot IMAP server that buttress polls, and swaks
sending to buttress's SMTP listener."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from imapclient import IMAPClient

from buttress.cli import cli
from buttress.desk import smtpd
from buttress.desk.models import InboundMail, InboundSource, InboundStatus, Mailbox, Ticket
from buttress.desk.services import mailboxes
from buttress.desk.tasks.inbound import process_inbound
from buttress.testing.factories import ContactFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
)
SWAKS = shutil.which("swaks")
PASSWORD = "s3cret-imap"


def _require(binary: str | None, package: str) -> str:
    if binary:
        return binary
    reason = f"{package} is not installed (apt-get install {package})"
    if os.environ.get("BUTTRESS_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def dana(org):
    return ContactFactory.create(organization=org, name="Dana", email="dana@acme.example")


# --- IMAP (dovecot) --------------------------------------------------------------------------


@dataclass
class Imap:
    port: int
    user: str = "desk"

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(self.user, PASSWORD)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            client.append(folder, raw)
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return 0
            return int(client.select_folder(folder, readonly=True)[b"EXISTS"])
        finally:
            client.logout()


@pytest.fixture
def dovecot() -> Iterator[Imap]:
    """A dovecot IMAP server on a loopback port, run unprivileged with its own configuration,
    passwd-file users and Maildir under a temporary folder."""
    binary = _require(DOVECOT, "dovecot-imapd")
    # As root, dovecot runs as its own unprivileged system user; otherwise as the caller.
    runner = pwd.getpwnam("dovecot") if os.getuid() == 0 else pwd.getpwuid(os.getuid())
    root = Path(tempfile.mkdtemp(prefix="buttress-dovecot-"))
    root.chmod(0o755)
    port = _free_port()
    (root / "passwd").write_text(f"desk:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
    (root / "dovecot.conf").write_text(
        f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
listen = 127.0.0.1
protocols = imap
default_login_user = {runner.pw_name}
default_internal_user = {runner.pw_name}
default_internal_group = {runner.pw_name}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={runner.pw_uid} gid={runner.pw_gid} home={root}/home/%u
}}
mail_location = maildir:{root}/mail/%u
first_valid_uid = {runner.pw_uid}
first_valid_gid = {runner.pw_gid}
""",
        encoding="utf-8",
    )
    for path in [root, *root.iterdir()]:
        os.chown(path, runner.pw_uid, runner.pw_gid)
    process = subprocess.Popen(
        [binary, "-F", "-c", str(root / "dovecot.conf")],
        user=runner.pw_uid if os.getuid() == 0 else None,
        group=runner.pw_gid if os.getuid() == 0 else None,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait(lambda: _listening(port) or process.poll() is not None, "dovecot to listen")
        if process.poll() is not None:
            log = (
                (root / "dovecot.log").read_text(errors="replace")
                if (root / "dovecot.log").exists()
                else ""
            )
            pytest.fail(f"dovecot did not start: {log[-2000:]}")
        yield Imap(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _message(message_id: str, subject: str, body: str = "Hello.", **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Dana <dana@acme.example>"
    mail["To"] = "support@provider.example"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return bytes(mail)


def _mailbox(imap: Imap, **fields: object) -> Mailbox:
    return mailboxes.create_mailbox(
        actor=None,
        name=str(fields.pop("name", "support")),
        host="127.0.0.1",
        port=imap.port,
        security="none",
        username=imap.user,
        password=PASSWORD,
        **fields,  # type: ignore[arg-type]
    )


def test_mail_delivered_to_dovecot_is_polled_into_tickets_and_moved(dovecot, dana):
    dovecot.deliver(_message("<p1@acme.example>", "Printer jammed"))
    dovecot.deliver(_message("<p2@acme.example>", "VPN down"))
    mailbox = _mailbox(dovecot, done_folder="Processed")
    dovecot.client().create_folder("Processed")

    result = CliRunner().invoke(cli, ["mail", "poll"])

    assert result.exit_code == 0, result.output
    assert "support: 2 stored, 0 already received" in result.output
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "Printer jammed",
        "VPN down",
    ]
    assert set(InboundMail.objects.values_list("source", flat=True)) == {InboundSource.IMAP}
    assert dovecot.count("INBOX") == 0
    assert dovecot.count("Processed") == 2
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 2
    assert mailbox.uid_validity is not None
    assert mailbox.last_error == ""

    [ticket] = Ticket.objects.filter(subject="VPN down")
    dovecot.deliver(_message("<p3@acme.example>", f"Re: [{ticket.reference}] VPN down", "Still."))
    again = mailboxes.poll(mailbox)

    assert (again.stored, again.duplicates) == (1, 0)
    assert list(ticket.replies.values_list("body", flat=True)) == ["Still."]


def test_a_new_uidvalidity_rereads_the_folder_and_duplicates_make_nothing_new(dovecot, dana):
    dovecot.deliver(_message("<u1@acme.example>", "One"))
    dovecot.deliver(_message("<u1@acme.example>", "One"))  # delivered twice
    mailbox = _mailbox(dovecot)  # no done folder: polled mail is flagged seen

    first = mailboxes.poll(mailbox)
    Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=1)
    mailbox.refresh_from_db()
    second = mailboxes.poll(mailbox)

    assert (first.stored, first.duplicates) == (1, 1)
    assert (second.stored, second.duplicates) == (0, 2)
    assert Ticket.objects.count() == 1
    client = dovecot.client()
    client.select_folder("INBOX", readonly=True)
    assert len(client.search(["SEEN"])) == 2
    client.logout()


def test_a_wrong_password_is_kept_on_the_mailbox_and_the_cli_fails(dovecot):
    mailbox = _mailbox(dovecot)
    mailboxes.update_mailbox(mailbox, actor=None, password="wrong")

    result = CliRunner().invoke(cli, ["mail", "poll", "--mailbox", "support"])

    assert result.exit_code == 1
    assert "cannot connect" in result.output
    mailbox.refresh_from_db()
    assert "cannot connect" in mailbox.last_error


def test_an_over_limit_message_stays_on_the_server_and_is_quarantined(dovecot, dana, settings):
    settings.DESK_MAIL_MAX_BYTES = 2000
    dovecot.deliver(_message("<big@acme.example>", "Huge", "x" * 5000))
    mailbox = _mailbox(dovecot, done_folder="Processed")
    dovecot.client().create_folder("Processed")

    result = mailboxes.poll(mailbox)

    assert result.too_large == 1
    kept = InboundMail.objects.get()
    assert kept.status == InboundStatus.QUARANTINED
    assert "larger than" in kept.reason
    assert not Ticket.objects.exists()


def test_the_mailbox_password_is_stored_encrypted(dovecot):
    mailbox = _mailbox(dovecot)

    assert PASSWORD not in mailbox.password_encrypted
    assert mailbox.poll_due_at is not None


# --- SMTP (swaks -> buttress smtpd) ----------------------------------------------------------


@pytest.fixture
def listener(settings) -> Iterator[int]:
    """buttress's SMTP listener on a loopback port, in a thread of this process."""
    settings.SMTPD_DOMAINS = ["provider.example", "alerts@other.example"]
    port = _free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stopped = asyncio.Event()

    async def main() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(smtpd.serve("127.0.0.1", port, ready=started))
        await started.wait()
        ready.set()
        await stopped.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the SMTP listener did not start"
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(stopped.set)
        thread.join(10)
        loop.close()


def _swaks(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    binary = _require(SWAKS, "swaks")
    return subprocess.run(
        [binary, "--server", f"127.0.0.1:{port}", "--timeout", "20", "--silent", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _process_queued() -> None:
    for stored in InboundMail.objects.filter(process_due_at__isnull=False):
        assert stored.process_due_at is not None
        process_inbound.call(stored.pk, stored.process_due_at.isoformat())


def test_swaks_delivers_to_the_listener_which_stores_before_it_answers(listener, dana):
    sent = _swaks(
        listener,
        "--from",
        "dana@acme.example",
        "--to",
        "support@provider.example",
        "--header",
        "Subject: Mail server down",
        "--header",
        "Message-ID: <swaks1@acme.example>",
        "--body",
        "Nothing arrives.",
    )

    assert sent.returncode == 0, sent.stdout + sent.stderr
    stored = InboundMail.objects.get()
    assert stored.source == InboundSource.SMTP
    assert stored.recipients == ["support@provider.example"]
    assert stored.process_due_at is not None
    _process_queued()
    ticket = Ticket.objects.get()
    assert ticket.subject == "Mail server down"
    assert ticket.description == "Nothing arrives."


def test_the_listener_refuses_other_domains_with_550_and_big_mail_with_552(
    listener, dana, settings
):
    refused = _swaks(listener, "--from", "dana@acme.example", "--to", "someone@elsewhere.example")
    settings.DESK_MAIL_MAX_BYTES = 4000
    big = _swaks(
        listener,
        "--from",
        "dana@acme.example",
        "--to",
        "alerts@other.example",
        "--body",
        ("y" * 70 + "\n") * 150,
    )

    assert refused.returncode != 0
    assert "550" in refused.stdout + refused.stderr
    assert big.returncode != 0
    assert "552" in big.stdout + big.stderr
    assert not InboundMail.objects.exists()
