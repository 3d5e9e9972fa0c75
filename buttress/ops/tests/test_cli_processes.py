"""The `buttress` command as an operator runs it: separate processes, real signals."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

BUTTRESS = [sys.executable, "-m", "buttress.cli"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "BUTTRESS_DATA_DIR": str(data_dir), "DATABASE_URL": "", **extra}
    for name in ("PROMETHEUS_MULTIPROC_DIR", "BUTTRESS_TEST_DATABASE_NAME"):
        env.pop(name, None)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)  # noqa: S310 - loopback http in a test
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_for_healthz(base: str, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "buttress run exited early"
        try:
            if _get(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("/healthz never answered")


def _session_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def _cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BUTTRESS, *args],
        env=_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_migrate_applies_everything_once(tmp_path):
    first = _cli(tmp_path, "migrate")
    second = _cli(tmp_path, "migrate")

    assert first.returncode == 0, first.stderr
    assert re.match(r"Applied \d+ migrations\.", first.stdout)
    assert second.stdout.strip() == "No migrations to apply."


@pytest.mark.slow
def test_an_unreachable_database_is_one_clear_error(tmp_path):
    unreachable = {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{_free_port()}/nothing"}

    token = _cli(tmp_path, "token", "create", "--email", "a@example.com", **unreachable)
    check = _cli(tmp_path, "check", **unreachable)

    assert token.returncode == 1
    assert token.stderr.startswith("Error: database: ")
    assert len(token.stderr.strip().splitlines()) == 1
    assert check.returncode == 1
    assert check.stdout.startswith("FAIL database")
    assert "Traceback" not in token.stderr + check.stderr


@pytest.mark.slow
def test_run_with_demo_serves_then_stops_every_child_on_sigint(tmp_path):
    port, intake_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*BUTTRESS, "run", "--demo", "--bind", f"127.0.0.1:{port}"],
        env=_env(
            tmp_path,
            BUTTRESS_SCHEDULER_INTERVAL="0.5",
            BUTTRESS_INTAKE_BIND=f"127.0.0.1:{intake_port}",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_healthz(base, process, timeout=90)
        deadline = time.monotonic() + 30
        while _get(f"{base}/readyz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        ready = json.loads(_get(f"{base}/readyz")[1])
        metrics = _get(f"{base}/metrics")[1].decode()
        _wait_for_healthz(f"http://127.0.0.1:{intake_port}", process, timeout=30)
        unknown_ping = _get(f"http://127.0.0.1:{intake_port}/ping/{uuid.uuid4()}")

        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        _stop(process)

    assert ready["status"] == "ok", ready
    names = {f.name for f in text_string_to_metric_families(metrics)}
    assert {"buttress_http_requests", "buttress_task_queue_depth"} <= names
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}/" in stdout
    assert "admin@provider.example" in stdout
    assert "local evaluation" in stdout
    token = re.search(r"API token for \S+ \(write, 7 days\): (\S+)", stdout)
    assert token is not None
    children = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", stderr)]
    assert len(children) == 5
    assert set(re.findall(r"started (\w+) \(pid", stderr)) == {
        "web",
        "worker",
        "scheduler",
        "runner",
        "intake",
    }
    assert unknown_ping == (404, b"not found")
    assert all(_session_gone(pid) for pid in children)


@pytest.mark.slow
def test_run_stops_everything_and_fails_when_a_child_dies(tmp_path):
    # given a worker that cannot reach its broker, so it exits at once
    port = _free_port()
    process = subprocess.Popen(
        [*BUTTRESS, "run", "--bind", f"127.0.0.1:{port}"],
        env=_env(
            tmp_path,
            BUTTRESS_TASK_BACKEND="rq",
            BUTTRESS_REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0",
            BUTTRESS_INTAKE_BIND=f"127.0.0.1:{_free_port()}",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=90)
    finally:
        _stop(process)

    assert process.returncode == 1
    assert "create the first administrator" in stdout
    assert "Error: the worker process exited unexpectedly" in stderr
    children = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", stderr)]
    assert children
    assert all(_session_gone(pid) for pid in children)


@pytest.mark.slow
def test_run_refuses_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = _cli(tmp_path, "run", "--bind", f"127.0.0.1:{port}")

    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
