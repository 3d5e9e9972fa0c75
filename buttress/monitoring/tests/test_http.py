import asyncio
import time
from typing import Any

from buttress.monitoring.probes import HttpSpec, JsonAssertion, Network, ProbeResult, probe_http
from buttress.monitoring.tests.servers import hang, http_server, stub_network, tcp_server


async def _get(path: str, **options: Any) -> ProbeResult:
    async with http_server() as [port]:
        spec = HttpSpec(f"http://127.0.0.1:{port}{path}", allow_private=True, **options)
        return await probe_http(spec)


def test_expected_status_is_up_with_latency_and_detail():
    result = asyncio.run(_get("/ok"))

    assert result.ok
    assert result.status == "up"
    assert result.latency_ms is not None
    assert result.latency_ms > 0
    assert result.detail["status_code"] == 200


def test_unexpected_status_is_down_naming_both_codes():
    result = asyncio.run(_get("/status/503", expected_status=[200]))

    assert result.status == "down"
    assert result.message == "expected status 200, got 503"


def test_status_ranges_and_classes_are_accepted():
    result = asyncio.run(_get("/status/404", expected_status="200-299, 4xx"))

    assert result.ok


def test_missing_keyword_is_down():
    result = asyncio.run(_get("/ok", keyword="Goodbye"))

    assert result.message == "keyword 'Goodbye' not found"


def test_present_keyword_that_must_be_absent_is_down():
    result = asyncio.run(_get("/ok", keyword="Welcome", keyword_present=False))

    assert result.status == "down"
    assert result.message == "keyword 'Welcome' found but must be absent"


def test_keyword_present_is_up():
    assert asyncio.run(_get("/ok", keyword="Welcome")).ok


def test_json_assertions_that_hold_are_up():
    checks = (
        JsonAssertion("status", "==", "ok"),
        JsonAssertion("checks.db.latency", "<", 100),
        JsonAssertion("tags", "contains", "b"),
        JsonAssertion("up", "==", True),
        JsonAssertion("missing", "absent"),
    )

    assert asyncio.run(_get("/health", json_assertions=checks)).ok


def test_failed_json_assertion_names_path_expectation_and_value():
    checks = (JsonAssertion("checks.db.latency", "<", 10),)

    result = asyncio.run(_get("/health", json_assertions=checks))

    assert result.message == "JSON checks.db.latency: expected < 10, got 12"


def test_json_true_is_not_the_number_one():
    result = asyncio.run(_get("/health", json_assertions=(JsonAssertion("up", "==", 1),)))

    assert result.status == "down"


def test_body_that_is_not_json_fails_json_assertions():
    result = asyncio.run(_get("/ok", json_assertions=(JsonAssertion("status"),)))

    assert result.message == "response is not valid JSON"


def test_slow_response_over_the_latency_limit_is_down():
    result = asyncio.run(_get("/slow", max_latency_ms=100))

    assert result.status == "down"
    assert result.message.startswith("response took ")
    assert result.message.endswith("ms (limit 100 ms)")


def test_body_read_stops_at_the_limit():
    result = asyncio.run(_get("/big", keyword="needle", max_body_bytes=1024 * 1024))

    assert result.message == "keyword 'needle' not found"
    assert result.detail["body_truncated"] is True
    assert result.detail["body_bytes"] == 1024 * 1024


def test_redirects_are_followed_and_recorded():
    result = asyncio.run(_get("/chain/2"))

    assert result.ok
    assert [hop.split("/", 3)[3] for hop in result.detail["redirects"]] == [
        "chain/1",
        "chain/0",
        "ok",
    ]


def test_more_redirects_than_allowed_is_down():
    result = asyncio.run(_get("/chain/5", max_redirects=2))

    assert result.message == "too many redirects (more than 2)"


def test_redirect_not_followed_is_judged_as_is():
    result = asyncio.run(_get("/chain/1", follow_redirects=False, expected_status=[302]))

    assert result.ok
    assert result.detail["redirects"] == []


def test_see_other_turns_the_post_into_a_get():
    result = asyncio.run(
        _get(
            "/see-other",
            method="POST",
            body="payload",
            json_assertions=(JsonAssertion("method", "==", "GET"),),
        )
    )

    assert result.ok


def test_method_headers_and_body_are_sent():
    checks = (
        JsonAssertion("method", "==", "PUT"),
        JsonAssertion('headers."X-Probe"', "==", "yes"),
        JsonAssertion("body", "==", "hello"),
    )

    result = asyncio.run(
        _get(
            "/echo", method="put", headers={"X-Probe": "yes"}, body="hello", json_assertions=checks
        )
    )

    assert result.ok, result.message


def test_connection_refused_is_down():
    async def scenario() -> ProbeResult:
        async with tcp_server(hang) as port:
            pass  # closed again: nothing listens on the port now
        return await probe_http(HttpSpec(f"http://127.0.0.1:{port}/", allow_private=True))

    assert asyncio.run(scenario()).message == "connection refused"


def test_hanging_server_times_out_within_the_deadline():
    async def scenario() -> tuple[ProbeResult, float]:
        async with tcp_server(hang) as port:
            started = time.perf_counter()
            result = await probe_http(
                HttpSpec(f"http://127.0.0.1:{port}/", timeout=0.5, allow_private=True)
            )
            return result, time.perf_counter() - started

    result, elapsed = asyncio.run(scenario())

    assert result.status == "down"
    assert result.message == "timed out after 0.5 s"
    assert elapsed < 1.0


def test_loopback_target_is_refused_when_private_addresses_are_not_allowed():
    async def scenario() -> ProbeResult:
        async with http_server() as [port]:
            return await probe_http(HttpSpec(f"http://127.0.0.1:{port}/ok"))

    result = asyncio.run(scenario())

    assert result.status == "down"
    assert result.message == (
        "refused: 127.0.0.1 is a private address (private targets are not allowed)"
    )


def test_name_resolving_to_loopback_is_refused():
    async def scenario() -> ProbeResult:
        async with http_server() as [port]:
            return await probe_http(HttpSpec(f"http://localhost:{port}/ok"))

    result = asyncio.run(scenario())

    assert result.status == "down"
    assert result.message.startswith("refused: localhost resolves to private address")


def _public_hop_network() -> Network:
    # 127.0.0.2 plays a public web server; 127.0.0.1 stays private.
    return stub_network(
        {"public.example": ["127.0.0.2"], "internal.example": ["127.0.0.1"]},
        public={"127.0.0.2"},
    )


def test_public_target_is_reached_at_the_address_that_was_checked():
    async def scenario() -> ProbeResult:
        async with http_server(hosts=("127.0.0.1", "127.0.0.2")) as [_, public_port]:
            spec = HttpSpec(f"http://public.example:{public_port}/ok")
            return await probe_http(spec, network=_public_hop_network())

    assert asyncio.run(scenario()).ok


def test_redirect_from_public_hop_to_loopback_literal_is_refused():
    async def scenario() -> ProbeResult:
        async with http_server(hosts=("127.0.0.1", "127.0.0.2")) as [private_port, public_port]:
            target = f"http://127.0.0.1:{private_port}/ok"
            spec = HttpSpec(f"http://public.example:{public_port}/to?url={target}")
            return await probe_http(spec, network=_public_hop_network())

    result = asyncio.run(scenario())

    assert result.status == "down"
    assert result.message == (
        "refused: 127.0.0.1 is a private address (private targets are not allowed)"
    )


def test_redirect_from_public_hop_to_name_of_private_address_is_refused():
    async def scenario() -> ProbeResult:
        async with http_server(hosts=("127.0.0.1", "127.0.0.2")) as [private_port, public_port]:
            target = f"http://internal.example:{private_port}/ok"
            spec = HttpSpec(f"http://public.example:{public_port}/to?url={target}")
            return await probe_http(spec, network=_public_hop_network())

    result = asyncio.run(scenario())

    assert result.message == (
        "refused: internal.example resolves to private address 127.0.0.1 "
        "(private targets are not allowed)"
    )


def test_unresolvable_name_is_down():
    network = stub_network({}, public=set())

    result = asyncio.run(probe_http(HttpSpec("http://nowhere.example/"), network=network))

    assert result.message == "cannot resolve nowhere.example: no addresses"


def test_https_with_untrusted_certificate_is_down_unless_verification_is_off(pki):
    async def scenario(verify: bool) -> ProbeResult:
        async with http_server(tls=pki.self_signed.server_context()) as [port]:
            spec = HttpSpec(f"https://localhost:{port}/ok", verify_tls=verify, allow_private=True)
            return await probe_http(spec)

    refused = asyncio.run(scenario(verify=True))
    accepted = asyncio.run(scenario(verify=False))

    assert refused.status == "down"
    assert refused.message.startswith("TLS certificate not trusted: self-signed certificate")
    assert accepted.ok


def test_credentials_are_dropped_when_a_redirect_leaves_the_origin():
    async def scenario() -> ProbeResult:
        async with http_server(hosts=("127.0.0.1", "127.0.0.2")) as [first, second]:
            target = f"http://127.0.0.2:{second}/echo"
            spec = HttpSpec(
                f"http://127.0.0.1:{first}/to?url={target}",
                headers={"Authorization": "Bearer secret", "X-Trace": "1"},
                json_assertions=(
                    JsonAssertion('headers."Authorization"', "absent"),
                    JsonAssertion('headers."X-Trace"', "==", "1"),
                ),
                allow_private=True,
            )
            return await probe_http(spec)

    result = asyncio.run(scenario())

    assert result.ok, result.message
