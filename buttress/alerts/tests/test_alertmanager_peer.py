"""A real Alertmanager (Debian's prometheus-alertmanager) sends to buttress: alerts fired and
resolved with amtool open one incident, collect in it, and resolve it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from buttress.alerts.formats import fingerprint
from buttress.alerts.models import Alert, AlertStatus, Delivery
from buttress.alerts.tests.helpers import make_integration, process_pending
from buttress.desk.models import Reply, Status, Ticket, TicketType

pytestmark = pytest.mark.slow

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")


def _binaries() -> tuple[str, str]:
    if ALERTMANAGER and AMTOOL:
        return ALERTMANAGER, AMTOOL
    reason = (
        "prometheus-alertmanager and amtool are not installed "
        "(apt-get install prometheus-alertmanager)"
    )
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
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def alertmanager(tmp_path: Path, live_server, org) -> Iterator[tuple[str, str]]:
    """(amtool path, Alertmanager URL) with Alertmanager sending to an alertmanager
    integration of ``org`` on the live test server."""
    binary, amtool = _binaries()
    _, key = make_integration(org, "alertmanager")
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: buttress\n"
        "  group_by: [alertname]\n"
        "  group_wait: 1s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: buttress\n"
        "    webhook_configs:\n"
        f"      - url: {live_server.url}/hooks/alertmanager/{key}\n"
        "        send_resolved: true\n",
        encoding="utf-8",
    )
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:  # noqa: S310
                    return bool(answer.status == 200)
            except OSError:
                return False

        _wait(ready, "Alertmanager to start")
        yield amtool, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _amtool(amtool: str, url: str, *args: str) -> None:
    subprocess.run(
        [amtool, f"--alertmanager.url={url}", "--no-version-check", "alert", "add", *args],
        check=True,
        capture_output=True,
        timeout=30,
    )


def _processed(predicate: Callable[[], bool]) -> Callable[[], bool]:
    def check() -> bool:
        process_pending()
        return predicate()

    return check


def test_real_alertmanager_opens_collects_and_resolves_one_incident(transactional_db, alertmanager):
    amtool, url = alertmanager
    started = datetime.now(UTC) - timedelta(minutes=1)
    labels = [
        {"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
        {"alertname": "DiskFull", "instance": "db2:9100", "severity": "critical"},
    ]

    for alert_labels in labels:
        _amtool(
            amtool,
            url,
            *(f"{k}={v}" for k, v in alert_labels.items()),
            "--annotation=summary=disk almost full",
            "--annotation=runbook_url=https://runbooks.example/disk",
            f"--start={started.isoformat()}",
        )
    _wait(
        _processed(lambda: Alert.objects.filter(status=AlertStatus.FIRING).count() == 2),
        "two firing alerts",
    )

    ticket = Ticket.objects.get()
    assert ticket.type == TicketType.INCIDENT
    assert ticket.status == Status.NEW
    assert ticket.subject == "DiskFull: disk almost full"
    alerts = list(Alert.objects.order_by("labels__instance"))
    assert [a.incident_id for a in alerts] == [ticket.pk, ticket.pk]
    # Alertmanager's own fingerprints agree with the ones buttress computes.
    assert sorted(a.fingerprint for a in alerts) == sorted(fingerprint(lb) for lb in labels)
    assert all(a.links["runbook"] == "https://runbooks.example/disk" for a in alerts)

    ended = datetime.now(UTC)
    for alert_labels in labels:
        _amtool(
            amtool,
            url,
            *(f"{k}={v}" for k, v in alert_labels.items()),
            "--annotation=summary=disk almost full",
            "--annotation=runbook_url=https://runbooks.example/disk",
            f"--start={started.isoformat()}",
            f"--end={ended.isoformat()}",
        )
    _wait(
        _processed(lambda: Ticket.objects.get().status == Status.RESOLVED),
        "the incident to resolve",
    )

    assert Ticket.objects.count() == 1
    assert Alert.objects.count() == 2
    assert not Alert.objects.filter(status=AlertStatus.FIRING).exists()
    assert Delivery.objects.filter(error="").count() == Delivery.objects.count()
    assert Reply.objects.filter(ticket=ticket, body__startswith="Alerts resolved").exists()
