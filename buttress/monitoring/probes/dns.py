"""DNS check: a name has records of a type, optionally exactly the expected ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.reversename

from buttress.monitoring.probes.network import (
    SYSTEM,
    Network,
    TargetRefused,
    parse_ip,
)
from buttress.monitoring.probes.result import (
    ProbeResult,
    Stopwatch,
    bounded,
    describe_timeout,
    down,
    judge,
)
from buttress.monitoring.probes.validate import check_host, check_port, check_timeout, fail

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR")
Match = Literal["subset", "exact"]


@dataclass(frozen=True)
class DnsSpec:
    """``expected`` answers are written as in a zone file ("10 mail.example.com" for MX).

    ``subset``: every expected answer is among the answers; ``exact``: nothing else either.
    For PTR, ``name`` may be the IP address itself. ``nameserver`` unset: the system's.
    """

    name: str
    record_type: str = "A"
    expected: tuple[str, ...] = ()
    match: Match = "subset"
    nameserver: str | None = None
    port: int = 53
    use_tcp: bool = False
    timeout: float = 5.0
    allow_private: bool = False
    expected_rdata: tuple[dns.rdata.Rdata, ...] = field(init=False, repr=False, default=())
    qname: dns.name.Name = field(init=False, repr=False, default=dns.name.root)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        record_type = self.record_type.upper() if isinstance(self.record_type, str) else ""
        if record_type not in RECORD_TYPES:
            raise fail(
                "record_type", f"{self.record_type!r} is not one of {', '.join(RECORD_TYPES)}"
            )
        set_(self, "record_type", record_type)
        set_(self, "qname", _query_name(self.name, record_type))
        if isinstance(self.expected, str):
            raise fail("expected", "must be a list of answers, not one string")
        set_(self, "expected", tuple(self.expected))
        set_(
            self,
            "expected_rdata",
            tuple(_parse_answer(i, text, record_type) for i, text in enumerate(self.expected)),
        )
        if self.match not in ("subset", "exact"):
            raise fail("match", f"{self.match!r} is not subset or exact")
        if self.nameserver is not None:
            if parse_ip(self.nameserver) is None:
                raise fail("nameserver", f"{self.nameserver!r} is not an IP address")
            set_(self, "nameserver", self.nameserver.strip("[]"))
        check_port("port", self.port)
        set_(self, "timeout", check_timeout(self.timeout))


def _query_name(name: object, record_type: str) -> dns.name.Name:
    if record_type == "PTR" and isinstance(name, str) and parse_ip(name) is not None:
        return dns.reversename.from_address(name.strip("[]"))
    text = check_host("name", name)
    try:
        return dns.name.from_text(text)
    except dns.exception.DNSException as exc:
        raise fail("name", f"{name!r} is not a valid DNS name: {exc}") from exc


def _parse_answer(index: int, text: object, record_type: str) -> dns.rdata.Rdata:
    if not isinstance(text, str) or not text.strip():
        raise fail(f"expected[{index}]", "an answer is required")
    source = text.strip()
    if record_type == "TXT" and not source.startswith('"'):
        # One TXT string as written, spaces included, rather than one string per word.
        source = '"' + source.replace("\\", "\\\\").replace('"', '\\"') + '"'
    try:
        return dns.rdata.from_text(
            dns.rdataclass.IN,
            dns.rdatatype.from_text(record_type),
            source,
            origin=dns.name.root,
            relativize=False,
        )
    except (dns.exception.DNSException, ValueError) as exc:
        raise fail(f"expected[{index}]", f"{text!r} is not a valid {record_type} record") from exc


def _resolver(spec: DnsSpec) -> dns.asyncresolver.Resolver:
    if spec.nameserver is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [spec.nameserver]
        resolver.port = spec.port
    resolver.lifetime = spec.timeout
    resolver.cache = None
    return resolver


async def probe_dns(spec: DnsSpec, *, network: Network = SYSTEM) -> ProbeResult:
    return await bounded(spec.timeout, _probe(spec, network), kind="dns")


async def _probe(spec: DnsSpec, network: Network) -> ProbeResult:
    if spec.nameserver is not None:
        try:
            await network.addresses(spec.nameserver, allow_private=spec.allow_private)
        except TargetRefused as exc:
            return down(str(exc))
    clock = Stopwatch()
    try:
        answer = await _resolver(spec).resolve(
            spec.qname, spec.record_type, tcp=spec.use_tcp, raise_on_no_answer=False, search=False
        )
    except dns.resolver.NXDOMAIN:
        return down(f"{spec.qname} does not exist (NXDOMAIN)", latency_ms=clock.ms())
    except dns.exception.Timeout:
        return down(describe_timeout(spec.timeout))
    except dns.resolver.NoNameservers as exc:
        return down(f"no nameserver answered: {exc}", latency_ms=clock.ms())
    except dns.exception.DNSException as exc:
        return down(f"DNS query failed: {exc}", latency_ms=clock.ms())
    latency = clock.ms()
    records = list(answer.rrset) if answer.rrset is not None else []
    detail: dict[str, object] = {
        "answers": [_display(record) for record in records],
        "ttl": answer.rrset.ttl if answer.rrset is not None else None,
        "nameserver": answer.nameserver,
    }
    problems: list[str] = []
    if not records:
        problems.append(f"no {spec.record_type} records for {spec.qname}")
    else:
        missing = [
            text
            for text, rdata in zip(spec.expected, spec.expected_rdata, strict=True)
            if rdata not in records
        ]
        if missing:
            problems.append(f"expected {spec.record_type} {', '.join(missing)} not in answers")
        if spec.match == "exact" and spec.expected_rdata:
            extra = [_display(r) for r in records if r not in spec.expected_rdata]
            if extra:
                problems.append(f"unexpected {spec.record_type} answers: {', '.join(extra)}")
    return judge(
        problems,
        success=f"{len(records)} {spec.record_type} record(s) for {spec.qname}",
        latency_ms=latency,
        detail=detail,
    )


def _display(record: dns.rdata.Rdata) -> str:
    return record.to_text()
