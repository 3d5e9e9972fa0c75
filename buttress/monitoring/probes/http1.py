"""A lean HTTP/1.1 client for checks: one request on one new connection, then closed.

The HTTP probe's common path. A monitor's request bytes are built once (:func:`prepare`, when
its spec is built); a check connects to one of the addresses the probe has already vetted,
writes them, and reads the answer through a small incremental parser (:class:`Parser`): the
status line, the headers, and the body up to the check's limit (``Content-Length``,
``chunked``, or until the server closes; ``gzip`` and ``deflate`` content codings are
decoded, within the limit, as the request offers them). Nothing is kept between checks but
the two TLS contexts; no TLS session is ever resumed, so every ``https`` check sees the
certificate the server presents now.

What it does not do is left to aiohttp (:func:`prepare` answers ``None``): requests whose
own headers take over the framing or the connection (``Content-Length``, ``Transfer-Encoding``,
``Connection``, ``Expect``, ``Upgrade``, ``TE``) or ask for other content codings
(``Accept-Encoding``).

The request is what aiohttp sent for the same check: ``Host``, the headers given,
``Accept: */*``, ``Accept-Encoding: gzip, deflate``, ``Content-Length`` (``0`` for a method
that carries a body when there is none), ``Content-Type: application/octet-stream`` when a body
is sent without one, and ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

from buttress.monitoring.probes.network import describe_os_error, parse_ip

ACCEPT_ENCODING = "gzip, deflate"
# A status line or header line longer than this, or a head (status line and headers) larger
# than MAX_HEAD, is refused: a check needs a few headers, not a server's every whim.
MAX_LINE = 8190
MAX_HEAD = 64 * 1024
# Framing and connection headers the client sets itself; a request giving its own goes through
# aiohttp instead.
NOT_LEAN = frozenset(
    {
        "accept-encoding",
        "connection",
        "content-length",
        "expect",
        "te",
        "transfer-encoding",
        "upgrade",
    }
)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
_TYPED_METHODS = frozenset({"POST", "PUT", "PATCH"})
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9]\d\d)(?:[ \t][^\r\n]*)?")
_HEADER_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")


class BadResponse(Exception):
    """The answer is not HTTP/1.x as the client reads it (the probe's message names why)."""


class BrokenBody(Exception):
    """The headers were fine but the body stopped short of its own framing."""


class Disconnected(Exception):
    """The server closed the connection before the first byte of an answer."""


class Broken(Exception):
    """The connection broke (reset, say) before the answer's headers were complete."""


@dataclass(frozen=True, slots=True)
class Plan:
    """One request, ready to send: where to connect and the exact bytes to write."""

    url: URL
    host: str  # as given to the resolver (an IP literal without brackets, or a name)
    port: int
    tls: bool
    server_hostname: str | None
    head_only: bool  # a HEAD request: the answer has no body whatever its headers say
    request: bytes


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case; a repeated header's values joined
    body: bytes
    truncated: bool

    def charset(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, if any."""
        content_type = self.headers.get("content-type")
        if not content_type:
            return None
        for param in content_type.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip('"').strip("'") or None
        return None


def prepare(url: URL, method: str, headers: Mapping[str, str], body: bytes | None) -> Plan | None:
    """The request's plan, or ``None`` when the lean client leaves it to aiohttp."""
    names = {name.lower() for name in headers}
    if names & NOT_LEAN:
        return None
    host = url.raw_host
    port = url.port
    if host is None or port is None or url.scheme not in {"http", "https"}:
        return None
    tls = url.scheme == "https"
    lines = []
    if "host" not in names:
        lines.append(f"Host: {url.host_port_subcomponent}")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if "accept" not in names:
        lines.append("Accept: */*")
    lines.append(f"Accept-Encoding: {ACCEPT_ENCODING}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    elif method not in _BODYLESS_METHODS:
        lines.append("Content-Length: 0")
    if "content-type" not in names and (body is not None or method in _TYPED_METHODS):
        lines.append("Content-Type: application/octet-stream")
    lines.append("Connection: close")
    head = f"{method} {url.raw_path_qs} HTTP/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n"
    literal = parse_ip(host)
    return Plan(
        url=url,
        host=str(literal) if literal is not None else host,
        port=port,
        tls=tls,
        server_hostname=(host.rstrip(".") if tls else None),
        head_only=method == "HEAD",
        request=head.encode("utf-8") + (body or b""),
    )


@functools.cache
def tls_context(verify: bool) -> ssl.SSLContext:
    """The process's TLS context for checks that verify certificates, or for those that don't
    (built once: loading the trust store costs milliseconds)."""
    if verify:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.options |= ssl.OP_NO_COMPRESSION
    context.set_alpn_protocols(["http/1.1"])
    return context


# --- the parser ------------------------------------------------------------------------------

_HEAD, _LENGTH, _CHUNK_SIZE_LINE, _CHUNK_DATA, _CHUNK_END, _UNTIL_CLOSE, _DONE = range(7)


class Parser:
    """Reads one HTTP/1.x answer fed in pieces of any size.

    :meth:`feed` answers True once the answer is complete (or the body limit is passed; the
    rest is not read), :meth:`eof` settles an answer the server ended by closing. Interim
    ``1xx`` answers (other than ``101``) are skipped. With ``follow_redirects``, a redirect
    (with a ``Location``) is complete after its headers: its body is never read. Errors raise
    :class:`BadResponse`, :class:`BrokenBody` or :class:`Disconnected`.
    """

    __slots__ = (
        "_buffer",
        "_chunks",
        "_decoder",
        "_encoding",
        "_follow",
        "_head_only",
        "_left",
        "_limit",
        "_seen",
        "_size",
        "_state",
        "headers",
        "status",
        "truncated",
    )

    def __init__(
        self, *, limit: int, head_only: bool = False, follow_redirects: bool = False
    ) -> None:
        self._limit = limit
        self._head_only = head_only
        self._follow = follow_redirects
        self._state = _HEAD
        self._buffer = b""
        self._chunks: list[bytes] = []
        self._size = 0
        self._left = 0
        self._seen = False
        self._decoder: zlib._Decompress | None = None
        self._encoding = ""
        self.status = 0
        self.headers: dict[str, str] = {}
        self.truncated = False

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def response(self) -> Response:
        return Response(self.status, self.headers, b"".join(self._chunks), self.truncated)

    def feed(self, data: bytes) -> bool:
        if self._state == _DONE:
            return True
        if data:
            self._seen = True
        state = self._state
        if state == _LENGTH and not self._buffer:
            # The common case of a body read in pieces: no copying through the buffer.
            return self._length(data)
        if state == _UNTIL_CLOSE:
            self._add(data)
            return self.truncated
        self._buffer += data
        while self._buffer and self._state != _DONE:
            before = (self._state, len(self._buffer))
            self._step()
            if (self._state, len(self._buffer)) == before:
                break  # waiting for more bytes
        return self._state == _DONE

    def eof(self) -> Response:
        """The server closed the connection: the answer as it stands, if it is complete."""
        state = self._state
        if state == _HEAD:
            if not self._seen:
                raise Disconnected("server closed the connection without answering")
            raise BadResponse("the connection closed inside the headers")
        if state == _UNTIL_CLOSE:
            self._finish()
        elif state == _LENGTH:
            raise BrokenBody(f"{self._left} bytes of the announced length never came")
        elif state != _DONE:
            raise BrokenBody("the chunked body ended without its last chunk")
        return self.response()

    # -- states

    def _step(self) -> None:
        state = self._state
        if state == _HEAD:
            self._head()
        elif state == _LENGTH:
            data, self._buffer = self._buffer, b""
            self._length(data)
        elif state == _CHUNK_SIZE_LINE:
            self._chunk_size()
        elif state == _CHUNK_DATA:
            data, self._buffer = self._buffer[: self._left], self._buffer[self._left :]
            self._left -= len(data)
            if self._add(data) and self._left == 0:
                self._state = _CHUNK_END
        elif state == _CHUNK_END:
            if len(self._buffer) >= 2:
                if self._buffer[:2] != b"\r\n":
                    raise BrokenBody("a chunk is longer than its size says")
                self._buffer = self._buffer[2:]
                self._state = _CHUNK_SIZE_LINE
        elif state == _UNTIL_CLOSE:
            data, self._buffer = self._buffer, b""
            self._add(data)

    def _head(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                raise BadResponse(f"headers larger than {MAX_HEAD} bytes")
            if self._buffer.find(b"\r\n") < 0 and len(self._buffer) > MAX_LINE:
                raise BadResponse(f"status line longer than {MAX_LINE} bytes")
            return
        if end > MAX_HEAD:
            raise BadResponse(f"headers larger than {MAX_HEAD} bytes")
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        lines = head.split(b"\r\n")
        status_line = lines[0]
        if len(status_line) > MAX_LINE:
            raise BadResponse(f"status line longer than {MAX_LINE} bytes")
        match = _STATUS_LINE.fullmatch(status_line)
        if match is None:
            shown = status_line[:80].decode("latin-1")
            raise BadResponse(f"bad status line {shown!r}")
        status = int(match.group(1))
        headers: dict[str, str] = {}
        name = ""
        for line in lines[1:]:
            if len(line) > MAX_LINE:
                raise BadResponse(f"header line longer than {MAX_LINE} bytes")
            if line[:1] in (b" ", b"\t") and name:
                # An obsolete folded line continues the previous header.
                headers[name] += " " + line.strip().decode("utf-8", "surrogateescape")
                continue
            raw_name, colon, raw_value = line.partition(b":")
            if not colon or not _HEADER_NAME.fullmatch(raw_name):
                shown = line[:80].decode("latin-1")
                raise BadResponse(f"bad header line {shown!r}")
            name = raw_name.decode("ascii").lower()
            value = raw_value.strip(b" \t").decode("utf-8", "surrogateescape")
            if name in headers:
                if name == "content-length" and headers[name] != value:
                    raise BadResponse("conflicting Content-Length headers")
                if name != "content-length":
                    headers[name] += ", " + value
            else:
                headers[name] = value
        if 100 <= status < 200 and status != 101:
            return  # an interim answer (100 Continue, 103 Early Hints): the real one follows
        self.status = status
        self.headers = headers
        self._frame(status, headers)

    def _frame(self, status: int, headers: dict[str, str]) -> None:
        """How the body is delimited (RFC 9112, section 6.3)."""
        if self._head_only or status < 200 or status in (204, 304):
            self._state = _DONE
            return
        if self._follow and status in REDIRECTS and headers.get("location"):
            self._state = _DONE
            return
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding == "gzip":
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._encoding = encoding
        transfer = headers.get("transfer-encoding")
        if transfer is not None:
            codings = [part.strip().lower() for part in transfer.split(",")]
            self._state = _CHUNK_SIZE_LINE if codings[-1] == "chunked" else _UNTIL_CLOSE
            if any(coding not in {"chunked", "identity"} for coding in codings):
                raise BadResponse(f"unsupported transfer coding {transfer!r}")
            return
        length = headers.get("content-length")
        if length is None:
            self._state = _UNTIL_CLOSE
            return
        if not length.isdigit() or not length.isascii():
            raise BadResponse(f"bad Content-Length {length[:40]!r}")
        self._left = int(length)
        self._state = _LENGTH
        if self._left == 0:
            self._finish()

    def _length(self, data: bytes) -> bool:
        if len(data) >= self._left:
            # Anything past the announced length is not part of this answer.
            data = data[: self._left]
            self._left = 0
            if self._add(data):
                self._finish()
        else:
            self._left -= len(data)
            self._add(data)
        return self._state == _DONE

    def _chunk_size(self) -> None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > MAX_LINE:
                raise BadResponse(f"chunk size line longer than {MAX_LINE} bytes")
            return
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            shown = line[:40].decode("latin-1")
            raise BrokenBody(f"bad chunk size line {shown!r}")
        self._left = int(match.group(1), 16)
        if self._left == 0:
            self._finish()  # the last chunk; trailers are not needed
        else:
            self._state = _CHUNK_DATA

    # -- the body

    def _add(self, data: bytes) -> bool:
        """Keep ``data`` (decoded) up to one byte past the limit; False once past it."""
        if not data:
            return not self.truncated
        if self._encoding == "deflate" and self._decoder is None:
            # Some servers send raw deflate without the zlib header; read either.
            wbits = zlib.MAX_WBITS if data[0] & 0x0F == 8 else -zlib.MAX_WBITS
            self._decoder = zlib.decompressobj(wbits)
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data, self._limit + 1 - self._size)
            except zlib.error as exc:
                raise BrokenBody(f"cannot decode the {self._encoding} body: {exc}") from exc
        return self._keep(data)

    def _keep(self, data: bytes) -> bool:
        room = self._limit + 1 - self._size
        if len(data) > room:
            data = data[:room]
        self._chunks.append(data)
        self._size += len(data)
        if self._size <= self._limit:
            return True
        body = b"".join(self._chunks)[: self._limit]
        self._chunks = [body]
        self._size = len(body)
        self.truncated = True
        self._state = _DONE
        return False

    def _finish(self) -> None:
        if self._decoder is not None and not self.truncated:
            try:
                rest = self._decoder.flush()
            except zlib.error as exc:
                raise BrokenBody(f"cannot decode the {self._encoding} body: {exc}") from exc
            self._keep(rest)
        self._state = _DONE


# --- the connection --------------------------------------------------------------------------


class _Exchange(asyncio.Protocol):
    """Writes the request once connected and feeds the answer to a :class:`Parser`."""

    __slots__ = ("done", "parser", "request", "transport")

    def __init__(self, request: bytes, parser: Parser, done: asyncio.Future[Response]) -> None:
        self.request = request
        self.parser = parser
        self.done = done
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        try:
            finished = self.parser.feed(data)
        except (BadResponse, BrokenBody) as exc:
            self.done.set_exception(exc)
            self._close()
            return
        if finished:
            self.done.set_result(self.parser.response())
            self._close()

    def eof_received(self) -> bool | None:
        self._settle()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done.done():
            return
        if exc is not None:
            reason = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            # Once the headers are in, a broken connection breaks the body off.
            failure = BrokenBody(reason) if self.parser.status else Broken(reason)
            self.done.set_exception(failure)
            return
        self._settle()

    def _settle(self) -> None:
        if self.done.done():
            return
        try:
            self.done.set_result(self.parser.eof())
        except (BadResponse, BrokenBody, Disconnected) as exc:
            self.done.set_exception(exc)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def fetch(
    plan: Plan, addresses: list[str], *, verify: bool, limit: int, follow_redirects: bool = False
) -> Response:
    """Send the plan's request to the first of ``addresses`` that accepts, read the answer.

    Raises :class:`BadResponse`, :class:`BrokenBody`, :class:`Disconnected` or
    :class:`Broken` about the answer; ``ssl`` errors or an ``OSError`` from the handshake;
    or the last ``OSError`` when no address accepted.
    """
    loop = asyncio.get_running_loop()
    context = tls_context(verify) if plan.tls else None
    last_error: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, (address, plan.port))
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        except BaseException:
            sock.close()
            raise
        break
    else:
        assert last_error is not None  # the probe never passes an empty list
        raise last_error
    done: asyncio.Future[Response] = loop.create_future()
    parser = Parser(limit=limit, head_only=plan.head_only, follow_redirects=follow_redirects)
    transport: asyncio.Transport | None = None
    try:
        transport, _ = await loop.create_connection(
            lambda: _Exchange(plan.request, parser, done),
            sock=sock,
            ssl=context,
            server_hostname=plan.server_hostname,
        )
        return await done
    finally:
        if transport is None:
            sock.close()
        elif not done.done() or done.cancelled():
            transport.abort()  # given up on (a time-out): nothing more is read
        else:
            transport.close()
