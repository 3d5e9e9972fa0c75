"""Check probes: one asynchronous function per kind of check, no Django.

Each probe takes a frozen spec (validated when built: a bad field raises ValueError naming
it) and answers a ProbeResult within the spec's time-out, whatever the target does. Probes
resolve names themselves and refuse private addresses unless the spec allows them; a
``network`` argument replaces the resolver and the address classification.
"""

from __future__ import annotations

from buttress.monitoring.probes.dns import DnsSpec, probe_dns
from buttress.monitoring.probes.http import HttpClient, HttpSpec, probe_http
from buttress.monitoring.probes.icmp import IcmpSpec, probe_icmp
from buttress.monitoring.probes.jsoncheck import JsonAssertion
from buttress.monitoring.probes.mail import ImapSpec, SmtpSpec, probe_imap, probe_smtp
from buttress.monitoring.probes.network import SYSTEM, Network, is_public_address
from buttress.monitoring.probes.result import ProbeResult, Status
from buttress.monitoring.probes.tcp import TcpSpec, probe_tcp
from buttress.monitoring.probes.tls import TlsSpec, probe_tls

ProbeSpec = HttpSpec | TcpSpec | DnsSpec | TlsSpec | SmtpSpec | ImapSpec | IcmpSpec

__all__ = [
    "SYSTEM",
    "DnsSpec",
    "HttpClient",
    "HttpSpec",
    "IcmpSpec",
    "ImapSpec",
    "JsonAssertion",
    "Network",
    "ProbeResult",
    "ProbeSpec",
    "SmtpSpec",
    "Status",
    "TcpSpec",
    "TlsSpec",
    "is_public_address",
    "probe_dns",
    "probe_http",
    "probe_icmp",
    "probe_imap",
    "probe_smtp",
    "probe_tcp",
    "probe_tls",
    "run_probe",
]


async def run_probe(
    spec: ProbeSpec, *, network: Network = SYSTEM, http: HttpClient | None = None
) -> ProbeResult:
    """The probe of the spec's kind; HTTP checks share ``http``'s session when given."""
    match spec:
        case HttpSpec():
            return await probe_http(spec, network=network, client=http)
        case TcpSpec():
            return await probe_tcp(spec, network=network)
        case DnsSpec():
            return await probe_dns(spec, network=network)
        case TlsSpec():
            return await probe_tls(spec, network=network)
        case SmtpSpec():
            return await probe_smtp(spec, network=network)
        case ImapSpec():
            return await probe_imap(spec, network=network)
        case IcmpSpec():
            return await probe_icmp(spec, network=network)
