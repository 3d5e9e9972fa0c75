"""A test client for the intake server that answers like Django's test client.

The endpoint tests written for the Django views run against the intake server too: each
request starts an :class:`~buttress.intake.server.Intake` on a loopback port in a thread of its
own, sends the request there over a real socket with aiohttp's client, and meanwhile pumps the
intake's committers on the test's thread, so the writes use the test's connection and happen
inside the test's transaction.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from buttress.intake.server import Intake

TIMEOUT = 30.0


@dataclass
class IntakeResponse:
    status_code: int
    content: bytes
    headers: CIMultiDictProxy[str]

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def __contains__(self, name: str) -> bool:
        return name in self.headers

    def json(self) -> Any:
        return json.loads(self.content)


async def exchange(
    intake: Intake, method: str, path: str, *, data: bytes | None, headers: dict[str, str]
) -> IntakeResponse:
    server = web.Server(intake.handle, access_log=None)
    listener = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                f"http://127.0.0.1:{port}{path}",
                data=data,
                headers=headers,
                skip_auto_headers=["Content-Type"] if "Content-Type" not in headers else [],
                allow_redirects=False,
            ) as response,
        ):
            content = await response.read()
            return IntakeResponse(response.status, content, response.headers)
    finally:
        listener.close()
        await listener.wait_closed()
        await server.shutdown(1.0)


class IntakeClient:
    """``get``, ``head``, ``post``, ``put`` as django.test.Client spells them."""

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | str | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> IntakeResponse:
        sent = CIMultiDict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        body = data.encode() if isinstance(data, str) else data
        intake = Intake(pumped=True)
        answer: list[IntakeResponse | BaseException] = []

        def send() -> None:
            try:
                answer.append(
                    asyncio.run(exchange(intake, method, path, data=body, headers=dict(sent)))
                )
            except BaseException as exc:  # re-raised on the test's thread
                answer.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        deadline = time.monotonic() + TIMEOUT
        while sender.is_alive() and time.monotonic() < deadline:
            intake.pings.pump(0.005)
            intake.alerts.pump(0.005)
        sender.join(1.0)
        if not answer:
            raise TimeoutError(f"{method} {path}: no answer within {TIMEOUT} s")
        if isinstance(answer[0], BaseException):
            raise answer[0]
        return answer[0]

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> IntakeResponse:
        return self.request("GET", path, headers=headers)

    def head(self, path: str, *, headers: dict[str, str] | None = None) -> IntakeResponse:
        return self.request("HEAD", path, headers=headers)

    def put(self, path: str, *, headers: dict[str, str] | None = None) -> IntakeResponse:
        return self.request("PUT", path, headers=headers)

    def post(
        self,
        path: str,
        data: bytes | str | None = None,
        content_type: str = "application/octet-stream",
        *,
        headers: dict[str, str] | None = None,
    ) -> IntakeResponse:
        return self.request("POST", path, data=data, content_type=content_type, headers=headers)
