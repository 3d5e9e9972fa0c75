"""Every spec refuses bad input when built, with a message that starts with the field."""

from collections.abc import Callable

import pytest

from buttress.monitoring.probes import (
    DnsSpec,
    HttpSpec,
    IcmpSpec,
    ImapSpec,
    JsonAssertion,
    SmtpSpec,
    TcpSpec,
    TlsSpec,
)

BAD_SPECS: list[tuple[str, Callable[[], object]]] = [
    ("url", lambda: HttpSpec("")),
    ("url", lambda: HttpSpec("ftp://example.com/")),
    ("url", lambda: HttpSpec("http:///path-only")),
    ("url", lambda: HttpSpec("http://exa mple.com/")),
    ("url", lambda: HttpSpec("http://-bad-.example/")),
    ("url", lambda: HttpSpec("http://example.com:99999/")),
    ("method", lambda: HttpSpec("http://example.com/", method="FETCH")),
    ("headers", lambda: HttpSpec("http://example.com/", headers={"Bad Name": "x"})),
    ("headers", lambda: HttpSpec("http://example.com/", headers={"X-A": "a\r\nInjected: 1"})),
    ("expected_status", lambda: HttpSpec("http://example.com/", expected_status="")),
    ("expected_status", lambda: HttpSpec("http://example.com/", expected_status="abc")),
    ("expected_status", lambda: HttpSpec("http://example.com/", expected_status=[700])),
    ("expected_status", lambda: HttpSpec("http://example.com/", expected_status="299-200")),
    ("keyword", lambda: HttpSpec("http://example.com/", keyword="")),
    ("max_latency_ms", lambda: HttpSpec("http://example.com/", max_latency_ms=-1)),
    ("max_redirects", lambda: HttpSpec("http://example.com/", max_redirects=100)),
    ("max_body_bytes", lambda: HttpSpec("http://example.com/", max_body_bytes=0)),
    ("timeout", lambda: HttpSpec("http://example.com/", timeout=0)),
    ("timeout", lambda: HttpSpec("http://example.com/", timeout=float("nan"))),
    ("timeout", lambda: HttpSpec("http://example.com/", timeout=1000)),
    ("json_assertions", lambda: HttpSpec("http://example.com/", json_assertions=("a",))),  # type: ignore[arg-type]
    ("path", lambda: JsonAssertion("")),
    ("path", lambda: JsonAssertion("status[")),
    ("op", lambda: JsonAssertion("status", "~=")),  # type: ignore[arg-type]
    ("value", lambda: JsonAssertion("latency", "<", "fast")),
    ("value", lambda: JsonAssertion("name", "matches", "(")),
    ("host", lambda: TcpSpec("", 80)),
    ("host", lambda: TcpSpec("bad host", 80)),
    ("host", lambda: TcpSpec("a" * 64 + ".example", 80)),
    ("port", lambda: TcpSpec("example.com", 0)),
    ("port", lambda: TcpSpec("example.com", 65536)),
    ("port", lambda: TcpSpec("example.com", True)),
    ("expect", lambda: TcpSpec("example.com", 22, expect="(unclosed")),
    ("max_read_bytes", lambda: TcpSpec("example.com", 22, max_read_bytes=0)),
    ("name", lambda: DnsSpec("")),
    ("name", lambda: DnsSpec("bad name.example")),
    ("record_type", lambda: DnsSpec("example.com", "ANY")),
    ("expected[0]", lambda: DnsSpec("example.com", "A", expected=("not-an-ip",))),
    ("expected[1]", lambda: DnsSpec("example.com", "MX", expected=("10 mx.example", "mx"))),
    ("expected", lambda: DnsSpec("example.com", expected="192.0.2.1")),  # type: ignore[arg-type]
    ("match", lambda: DnsSpec("example.com", match="some")),  # type: ignore[arg-type]
    ("nameserver", lambda: DnsSpec("example.com", nameserver="dns.example")),
    ("port", lambda: DnsSpec("example.com", port=70000)),
    ("host", lambda: TlsSpec("")),
    ("port", lambda: TlsSpec("example.com", port=-1)),
    ("server_name", lambda: TlsSpec("example.com", server_name="bad name")),
    ("min_days_valid", lambda: TlsSpec("example.com", min_days_valid=-1)),
    ("ca_file", lambda: TlsSpec("example.com", ca_file="/nonexistent/ca.pem")),
    ("tls", lambda: SmtpSpec("example.com", tls="ssl")),  # type: ignore[arg-type]
    ("min_days_valid", lambda: SmtpSpec("example.com", min_days_valid=14)),
    ("helo_name", lambda: SmtpSpec("example.com", helo_name="a b")),
    ("port", lambda: ImapSpec("example.com", port=0)),
    ("host", lambda: IcmpSpec("")),
    ("count", lambda: IcmpSpec("example.com", count=0)),
    ("interval", lambda: IcmpSpec("example.com", interval=0)),
    ("max_loss_percent", lambda: IcmpSpec("example.com", max_loss_percent=101)),
    ("max_rtt_ms", lambda: IcmpSpec("example.com", max_rtt_ms=-5)),
    ("timeout", lambda: IcmpSpec("example.com", count=10, interval=1, timeout=5)),
]


@pytest.mark.parametrize(("field", "build"), BAD_SPECS)
def test_bad_field_is_rejected_naming_the_field(field, build):
    with pytest.raises(
        ValueError, match=r"^" + field.replace("[", r"\[").replace("]", r"\]") + ": "
    ):
        build()


def test_valid_specs_are_normalised():
    http = HttpSpec("http://Example.COM/path", method="post", expected_status=[200, "3xx"])
    dns = DnsSpec("192.0.2.1", "ptr")
    tcp = TcpSpec(" example.com ", 22)

    assert http.method == "POST"
    assert http.status_ranges == ((200, 200), (300, 399))
    assert http.describe_expected() == "200 or 300-399"
    assert dns.record_type == "PTR"
    assert str(dns.qname) == "1.2.0.192.in-addr.arpa."
    assert tcp.host == "example.com"


def test_unicode_host_names_become_their_ascii_form():
    assert TcpSpec("bücher.example", 80).host == "xn--bcher-kva.example"


def test_specs_are_frozen_and_keep_their_headers_unshared():
    headers = {"X-A": "1"}
    spec = HttpSpec("http://example.com/", headers=headers)
    headers["X-A"] = "2"

    assert spec.headers["X-A"] == "1"
    with pytest.raises(AttributeError):
        spec.url = "http://other.example/"  # type: ignore[misc]
