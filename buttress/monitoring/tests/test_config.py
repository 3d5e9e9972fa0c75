"""A monitor's stored config becomes the probe engine's spec, or is refused naming the option."""

from typing import Any

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
from buttress.monitoring.specs import ConfigError, build_spec, options

VALID: list[tuple[str, dict[str, Any], type]] = [
    (
        "http",
        {
            "url": "https://example.com/",
            "method": "post",
            "headers": {"X-Check": "1"},
            "expected_status": ["2xx", 301],
            "json_assertions": [{"path": "status", "op": "==", "value": "ok"}],
            "timeout": 5,
        },
        HttpSpec,
    ),
    ("tcp", {"host": "db.example.com", "port": 5432, "expect": "^R"}, TcpSpec),
    ("icmp", {"host": "192.0.2.1", "count": 2}, IcmpSpec),
    (
        "dns",
        {"name": "example.com", "record_type": "MX", "expected": ["10 mx.example.com"]},
        DnsSpec,
    ),
    ("tls", {"host": "example.com", "min_days_valid": 7}, TlsSpec),
    ("smtp", {"host": "mx.example.com", "tls": "starttls"}, SmtpSpec),
    ("imap", {"host": "mail.example.com", "port": 993, "tls": "implicit"}, ImapSpec),
]


@pytest.mark.parametrize(("kind", "config", "spec_class"), VALID)
def test_every_kind_builds_its_probe_spec(kind, config, spec_class):
    spec = build_spec(kind, config)

    assert isinstance(spec, spec_class)
    assert spec.allow_private is False


def test_json_assertions_become_engine_assertions():
    spec = build_spec("http", VALID[0][1])

    assert isinstance(spec, HttpSpec)
    assert spec.json_assertions == (JsonAssertion("status", "==", "ok"),)
    assert spec.method == "POST"


def test_the_runner_passes_the_organisations_private_address_policy():
    spec = build_spec("tcp", {"host": "10.0.0.5", "port": 22}, allow_private=True)

    assert spec.allow_private is True


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("http", {"url": "https://example.com/", "timeout": "5"}, "timeout"),
        ("http", {"url": "https://example.com/", "follow_redirects": 1}, "follow_redirects"),
        ("http", {"url": "https://example.com/", "json_assertions": {}}, "json_assertions"),
        ("http", {"url": "https://example.com/", "json_assertions": ["x"]}, "json_assertions[0]"),
        (
            "http",
            {"url": "https://example.com/", "json_assertions": [{"path": "a", "op": "~"}]},
            "json_assertions[0].op",
        ),
        ("tcp", {"host": "db.example.com"}, "port"),
        ("tcp", {"host": "db.example.com", "port": 22.0}, "port"),
        ("tls", {"host": "example.com", "ca_file": "/etc/ssl/ca.pem"}, "ca_file"),
        ("icmp", {"host": "192.0.2.1", "privileged": True}, "privileged"),
        ("dns", {"name": "example.com", "expected": "192.0.2.1"}, "expected"),
        ("smtp", {"host": "mx.example.com", "tls": "maybe"}, "tls"),
    ],
)
def test_bad_options_are_refused_naming_the_option(kind, config, field):
    with pytest.raises(ConfigError) as raised:
        build_spec(kind, config)

    assert raised.value.field == field


def test_options_leave_out_what_the_runner_decides():
    assert "allow_private" not in options("http")
    assert "ca_file" not in options("tls")
    assert "url" in options("http")
