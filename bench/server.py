"""The web server under test, run as a real separate process on a free loopback port."""

from __future__ import annotations

import http.client
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
READY_TIMEOUT = 90.0
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _buttress_has_web_command(buttress: Path) -> bool:
    if not buttress.exists():
        return False
    probe = subprocess.run(
        [str(buttress), "web", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    return probe.returncode == 0 and "--bind" in probe.stdout


def server_command(port: int, workers: int) -> list[str]:
    """``buttress web`` when the CLI has it, otherwise gunicorn on the project's WSGI app."""
    bind = f"{HOST}:{port}"
    buttress = Path(sys.executable).with_name("buttress")
    if _buttress_has_web_command(buttress):
        command = [str(buttress), "web", "--bind", bind]
        help_text = subprocess.run(
            [str(buttress), "web", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
        if "--workers" in help_text:
            command += ["--workers", str(workers)]
        return command
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "buttress.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    command: list[str]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        # gunicorn's graceful stop; the process group also holds its workers.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def intake_command(port: int, options: Sequence[str] = ()) -> list[str]:
    """``buttress intake`` on a loopback port, with ``options`` (for example ``--processes``)."""
    buttress = Path(sys.executable).with_name("buttress")
    program = [str(buttress)] if buttress.exists() else [sys.executable, "-m", "buttress.cli"]
    return [*program, "intake", "--bind", f"{HOST}:{port}", *options]


def start(
    *,
    env: dict[str, str],
    workers: int,
    log_dir: Path,
    ready_path: str,
    intake: bool = False,
    intake_options: Sequence[str] = (),
) -> Server:
    """``buttress web`` (gunicorn with ``workers``), or ``buttress intake`` when ``intake``."""
    port = free_port()
    command = intake_command(port, intake_options) if intake else server_command(port, workers)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / ("intake.log" if intake else "server.log")
    prometheus_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(prometheus_dir, ignore_errors=True)
    prometheus_dir.mkdir(parents=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process=process, port=port, command=command, log_path=log_path)
    try:
        _wait_ready(server, ready_path)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = server.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            msg = f"the server exited with {server.process.returncode}:\n{log}"
            raise RuntimeError(msg)
        try:
            if get_status(server.port, path) < 500:
                return
        except OSError:
            pass
        time.sleep(0.25)
    msg = f"the server did not answer {path} within {READY_TIMEOUT:.0f}s"
    raise RuntimeError(msg)


def get_status(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def login_session(server: Server, *, login_path: str, email: str, password: str) -> str:
    """Sign in through the real login form and return the session cookie's value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    url = server.base_url + login_path
    with opener.open(url, timeout=30) as response:
        page = response.read().decode("utf-8", errors="replace")
    match = CSRF_INPUT.search(page)
    if match is None:
        msg = f"no CSRF token in the login page at {login_path}"
        raise RuntimeError(msg)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": match.group(1), "email": email, "password": password}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - a loopback http:// URL built above
        url, data=form, headers={"Referer": url, "Origin": server.base_url}
    )
    try:
        with opener.open(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != 302:
        msg = f"signing in answered {status}, not a redirect: check the email and password"
        raise RuntimeError(msg)
    for cookie in jar:
        if cookie.name == "sessionid" and cookie.value:
            return cookie.value
    msg = "signing in set no session cookie"
    raise RuntimeError(msg)
