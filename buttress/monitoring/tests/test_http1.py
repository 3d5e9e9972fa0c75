"""The lean HTTP/1.1 client: its parser piece by piece, its requests, and the probe over it."""

import asyncio
import gzip
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from yarl import URL

from buttress.monitoring.probes import HttpClient, HttpSpec, ProbeResult, probe_http
from buttress.monitoring.probes.http1 import (
    MAX_HEAD,
    BadResponse,
    BrokenBody,
    Disconnected,
    Parser,
    Response,
    prepare,
)
from buttress.monitoring.tests.servers import http_server, stub_network, tcp_server

# ---------------------------------------------------------------- the parser


def _feed(data: bytes, *, size: int | None = None, limit: int = 1024, **options: Any) -> Parser:
    """Feed ``data`` in pieces of ``size`` bytes (all at once if None)."""
    parser = Parser(limit=limit, **options)
    step = size or len(data) or 1
    for start in range(0, len(data), step):
        if parser.feed(data[start : start + step]):
            break
    return parser


def _parse(data: bytes, *, size: int | None = None, **options: Any) -> Response:
    parser = _feed(data, size=size, **options)
    return parser.response() if parser.done else parser.eof()


OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


@pytest.mark.parametrize("size", [None, 1, 3, 7])
def test_content_length_body_in_pieces_of_any_size(size: int | None) -> None:
    parser = _feed(OK + b"trailing junk", size=size)

    assert parser.done
    response = parser.response()
    assert (response.status, response.body, response.truncated) == (200, b"hello", False)
    assert response.headers["content-type"] == "text/plain"


@pytest.mark.parametrize("size", [None, 1, 2, 5])
def test_chunked_body_split_anywhere(size: int | None) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"7\r\n, world\r\n"
        b"0\r\nX-Trailer: yes\r\n\r\n"
    )

    parser = _feed(answer, size=size)

    assert parser.done
    assert parser.response().body == b"hello, world"


def test_chunked_body_with_a_bad_size_line_is_broken() -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"

    with pytest.raises(BrokenBody, match="bad chunk size line 'zz'"):
        _feed(answer)


def test_chunk_longer_than_its_size_is_broken() -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"

    with pytest.raises(BrokenBody, match="longer than its size"):
        _feed(answer)


def test_chunked_body_cut_short_is_broken_at_the_end() -> None:
    parser = _feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")

    assert not parser.done
    with pytest.raises(BrokenBody, match="without its last chunk"):
        parser.eof()


def test_body_shorter_than_its_content_length_is_broken() -> None:
    parser = _feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")

    with pytest.raises(BrokenBody, match="7 bytes of the announced length never came"):
        parser.eof()


def test_body_without_length_lasts_until_the_server_closes() -> None:
    parser = _feed(b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nsome", size=2)
    assert not parser.done
    parser.feed(b" more")

    assert parser.eof().body == b"some more"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + b"x" * 5000,
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 5000,
    ],
    ids=["length", "chunked", "until-close"],
)
def test_body_stops_one_byte_past_the_limit_and_is_cut_to_it(answer: bytes) -> None:
    parser = _feed(answer, size=100, limit=1000)

    assert parser.done  # nothing more is read once past the limit
    response = parser.response()
    assert (len(response.body), response.truncated) == (1000, True)


def test_body_exactly_at_the_limit_is_not_truncated() -> None:
    response = _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", limit=10)

    assert (response.body, response.truncated) == (b"0123456789", False)


def test_gzip_body_is_decoded_and_the_limit_counts_decoded_bytes() -> None:
    packed = gzip.compress(b"a" * 100_000)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"

    small = _parse(head % len(packed) + packed, size=50, limit=200_000)
    cut = _parse(head % len(packed) + packed, size=50, limit=1000)

    assert (small.body, small.truncated) == (b"a" * 100_000, False)
    assert (cut.body, cut.truncated) == (b"a" * 1000, True)


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded_with_or_without_its_header(wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    packed = packer.compress(b"deflated text") + packer.flush()
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n" + packed

    assert _parse(answer, size=4).body == b"deflated text"


def test_corrupt_gzip_body_is_broken() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\nnot gzip at all"

    with pytest.raises(BrokenBody, match="cannot decode the gzip body"):
        _feed(answer)


@pytest.mark.parametrize(
    "status_line",
    [b"HTTP/1.1 OK", b"HTTP/2 200 OK", b"SSH-2.0-OpenSSH_9.6", b"HTTP/1.1 20 OK", b"HTTP/1.1 099"],
)
def test_bad_status_line_is_refused_naming_it(status_line: bytes) -> None:
    with pytest.raises(BadResponse, match="bad status line"):
        _feed(status_line + b"\r\nContent-Length: 0\r\n\r\n")


def test_status_line_without_a_reason_is_accepted() -> None:
    assert _parse(b"HTTP/1.1 204\r\n\r\n").status == 204


def test_bad_header_line_is_refused() -> None:
    with pytest.raises(BadResponse, match="bad header line 'no colon here'"):
        _feed(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")


def test_oversized_headers_are_refused_with_a_clear_message() -> None:
    parser = Parser(limit=1024)
    parser.feed(b"HTTP/1.1 200 OK\r\n")
    filler = b"X-Filler: " + b"y" * 1000 + b"\r\n"
    for _ in range(MAX_HEAD // len(filler)):
        parser.feed(filler)  # just under the limit: still waiting for the end of the head
    with pytest.raises(BadResponse, match=f"headers larger than {MAX_HEAD} bytes"):
        parser.feed(filler)


def test_oversized_header_line_is_refused() -> None:
    with pytest.raises(BadResponse, match="header line longer than 8190 bytes"):
        _feed(b"HTTP/1.1 200 OK\r\nX-Big: " + b"z" * 9000 + b"\r\n\r\n")


def test_conflicting_content_lengths_are_refused() -> None:
    with pytest.raises(BadResponse, match="conflicting Content-Length"):
        _feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")


def test_bad_content_length_is_refused() -> None:
    with pytest.raises(BadResponse, match="bad Content-Length '-1'"):
        _feed(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")


def test_interim_answers_are_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK

    response = _parse(answer, size=9)

    assert (response.status, response.body) == (200, b"hello")
    assert "link" not in response.headers


@pytest.mark.parametrize(
    ("answer", "options"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", {"head_only": True}),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 100\r\n\r\n", {}),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", {}),
    ],
)
def test_answers_without_a_body(answer: bytes, options: dict[str, Any]) -> None:
    parser = _feed(answer, **options)

    assert parser.done
    assert parser.response().body == b""


def test_a_redirect_being_followed_is_complete_after_its_headers() -> None:
    answer = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 100\r\n\r\n"

    followed = _feed(answer, follow_redirects=True)
    judged = _feed(answer)

    assert followed.done
    assert followed.response().headers["location"] == "/next"
    assert not judged.done  # not followed: its body is read like any other


def test_repeated_headers_are_joined_and_folded_lines_continue() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nVary: a\r\nVARY: b\r\nX-Long: one\r\n  two\r\n"
        b"Content-Length: 0\r\n\r\n"
    )

    headers = _parse(answer).headers

    assert headers["vary"] == "a, b"
    assert headers["x-long"] == "one two"


def test_closing_without_a_byte_is_a_disconnect_and_inside_the_head_a_bad_answer() -> None:
    with pytest.raises(Disconnected):
        Parser(limit=10).eof()
    with pytest.raises(BadResponse, match="closed inside the headers"):
        _feed(b"HTTP/1.1 200 OK\r\nContent-").eof()


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html; charset=ISO-8859-1", "ISO-8859-1"),
        ('text/html; Charset="utf-8"', "utf-8"),
        ("application/json", None),
    ],
)
def test_charset_comes_from_the_content_type(content_type: str, charset: str | None) -> None:
    assert Response(200, {"content-type": content_type}, b"", False).charset() == charset


# ---------------------------------------------------------------- the request


def test_request_is_built_once_with_the_headers_aiohttp_sent() -> None:
    plan = prepare(URL("http://example.com:8080/a%20b?x=1"), "GET", {"X-Probe": "yes"}, None)

    assert plan is not None
    assert (plan.host, plan.port, plan.tls, plan.server_hostname) == (
        "example.com",
        8080,
        False,
        None,
    )
    assert plan.request == (
        b"GET /a%20b?x=1 HTTP/1.1\r\n"
        b"Host: example.com:8080\r\n"
        b"X-Probe: yes\r\n"
        b"Accept: */*\r\n"
        b"Accept-Encoding: gzip, deflate\r\n"
        b"Connection: close\r\n\r\n"
    )


def test_request_with_a_body_has_its_length_and_a_default_type() -> None:
    plan = prepare(URL("https://[::1]/submit"), "POST", {}, b"payload")

    assert plan is not None
    assert (plan.host, plan.port, plan.tls, plan.server_hostname) == ("::1", 443, True, "::1")
    assert b"Host: [::1]\r\n" in plan.request
    assert b"Content-Length: 7\r\nContent-Type: application/octet-stream\r\n" in plan.request
    assert plan.request.endswith(b"\r\n\r\npayload")


def test_delete_without_a_body_says_so_and_given_headers_win() -> None:
    plan = prepare(
        URL("http://example.com/x"),
        "DELETE",
        {"Host": "other.example", "Accept": "application/json"},
        None,
    )

    assert plan is not None
    assert b"Content-Length: 0\r\n" in plan.request
    assert plan.request.count(b"Host:") == 1
    assert b"Host: other.example\r\n" in plan.request
    assert b"Accept: */*" not in plan.request


@pytest.mark.parametrize("header", ["Accept-Encoding", "connection", "Transfer-Encoding"])
def test_requests_setting_their_own_framing_go_through_aiohttp(header: str) -> None:
    spec = HttpSpec("http://example.com/", headers={header: "x"})

    assert spec.plan is None
    assert HttpSpec("http://example.com/").plan is not None


# ---------------------------------------------------------------- the probe over raw sockets

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _answering(*pieces: bytes, pause: float = 0.0) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)

    return handler


def _check(handler: Handler, **options: Any) -> ProbeResult:
    async def scenario() -> ProbeResult:
        async with tcp_server(handler) as port:
            spec = HttpSpec(f"http://127.0.0.1:{port}/", allow_private=True, **options)
            assert spec.plan is not None
            return await probe_http(spec)

    return asyncio.run(scenario())


def test_chunked_answer_written_in_pieces_is_read_whole() -> None:
    result = _check(
        _answering(
            b"HTTP/1.1 200 OK\r\nTransfer-",
            b"Encoding: chunked\r\nContent-Type: text/html\r\n\r\n4\r\nneed",
            b"\r\n2\r\nle\r\n0\r\n\r\n",
            pause=0.01,
        ),
        keyword="needle",
    )

    assert result.ok, result.message
    assert result.detail["body_bytes"] == 6


def test_bad_status_line_is_down_naming_it() -> None:
    result = _check(_answering(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"))

    assert result.status == "down"
    assert result.message == "invalid HTTP response: bad status line 'SSH-2.0-OpenSSH_9.6'"


def test_oversized_headers_are_down_with_a_clear_message() -> None:
    result = _check(_answering(b"HTTP/1.1 200 OK\r\n" + b"X-Filler: abc\r\n" * 6000))

    assert result.message == f"invalid HTTP response: headers larger than {MAX_HEAD} bytes"


def test_server_closing_without_answering_is_down() -> None:
    result = _check(_answering())

    assert result.message == "server closed the connection without answering"


def test_body_broken_off_is_down() -> None:
    result = _check(_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))

    assert result.message == (
        "response body broken off: 95 bytes of the announced length never came"
    )


def test_reset_before_the_answer_is_down() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.transport.abort()

    result = _check(reset)

    assert result.message in {
        "HTTP request failed: connection reset by peer",
        "server closed the connection without answering",
    }


def test_answer_trickling_past_the_time_out_is_down_in_time() -> None:
    started = time.perf_counter()
    result = _check(
        _answering(*[b"HTTP/1.1 200 OK\r\n"] + [b"X: y\r\n"] * 50, pause=0.05), timeout=0.5
    )

    assert result.message == "timed out after 0.5 s"
    assert time.perf_counter() - started < 1.5


def test_gzip_answer_is_decoded_for_the_keyword() -> None:
    packed = gzip.compress(b"<p>all systems operational</p>")
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"

    result = _check(_answering(head % len(packed), packed), keyword="operational")

    assert result.ok, result.message


def test_request_is_written_as_planned() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        seen.append(await reader.readexactly(5))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    result = _check(record, method="PUT", body="hello", headers={"X-Probe": "1"})

    assert result.ok, result.message
    head = seen[0].decode()
    assert head.startswith("PUT / HTTP/1.1\r\nHost: 127.0.0.1:")
    assert "\r\nX-Probe: 1\r\n" in head
    assert "\r\nContent-Length: 5\r\n" in head
    assert "\r\nConnection: close\r\n" in head
    assert seen[1] == b"hello"


# ---------------------------------------------------------------- redirects and the policy


def _hops_network() -> Any:
    # 127.0.0.2 and 127.0.0.3 play public web servers; 127.0.0.1 stays private.
    return stub_network(
        {
            "one.example": ["127.0.0.2"],
            "two.example": ["127.0.0.3"],
            "mixed.example": ["127.0.0.3", "127.0.0.1"],
            "inside.example": ["127.0.0.1"],
        },
        public={"127.0.0.2", "127.0.0.3"},
    )


def _redirected(last_hop: str) -> ProbeResult:
    """public one.example -> public two.example -> ``last_hop`` (a format with {port})."""

    async def scenario() -> ProbeResult:
        hosts = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
        async with http_server(hosts=hosts) as [private, first, second]:
            final = last_hop.format(private=private, second=second)
            middle = f"http://two.example:{second}/to?url={final}"
            spec = HttpSpec(f"http://one.example:{first}/to?url={middle}")
            assert spec.plan is not None
            return await probe_http(spec, network=_hops_network())

    return asyncio.run(scenario())


def test_every_hop_of_a_redirect_chain_may_be_public() -> None:
    result = _redirected("http://two.example:{second}/ok")

    assert result.ok, result.message
    assert len(result.detail["redirects"]) == 2


@pytest.mark.parametrize(
    ("last_hop", "message"),
    [
        (
            "http://127.0.0.1:{private}/ok",
            "refused: 127.0.0.1 is a private address (private targets are not allowed)",
        ),
        (
            "http://inside.example:{private}/ok",
            "refused: inside.example resolves to private address 127.0.0.1 "
            "(private targets are not allowed)",
        ),
        (
            "http://mixed.example:{private}/ok",
            "refused: mixed.example resolves to private address 127.0.0.1 "
            "(private targets are not allowed)",
        ),
    ],
)
def test_the_policy_is_enforced_on_the_third_hop(last_hop: str, message: str) -> None:
    result = _redirected(last_hop)

    assert result.status == "down"
    assert result.message == message


def test_a_redirect_to_another_scheme_is_refused() -> None:
    result = _redirected("ftp://two.example/file")

    assert result.status == "down"
    assert result.message.startswith("bad redirect from http://two.example:")
    assert "must start with http:// or https://" in result.message


def test_the_aiohttp_path_gives_the_same_answers() -> None:
    async def scenario() -> tuple[ProbeResult, ProbeResult]:
        client = HttpClient()
        try:
            async with http_server() as [port]:
                url = f"http://127.0.0.1:{port}/chain/2"
                lean = HttpSpec(url, allow_private=True, keyword="Welcome")
                kept = HttpSpec(
                    url, allow_private=True, keyword="Welcome", headers={"Connection": "close"}
                )
                assert lean.plan is not None
                assert kept.plan is None
                return (
                    await probe_http(lean, client=client),
                    await probe_http(kept, client=client),
                )
        finally:
            await client.close()

    lean, kept = asyncio.run(scenario())

    assert lean.ok
    assert kept.ok
    assert lean.detail["redirects"] == kept.detail["redirects"]
    assert lean.detail["body_bytes"] == kept.detail["body_bytes"]
