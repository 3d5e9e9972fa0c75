"""Reading and judging a server certificate, shared by the TLS, SMTP and IMAP probes.

Chain trust comes from OpenSSL during the handshake. Expiry and the host name are judged
here from the parsed certificate so that each problem is reported on its own, even when the
chain is deliberately not verified (an internal service with its own certificate).
"""

from __future__ import annotations

import functools
import ipaddress
import math
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from buttress.monitoring.probes.network import parse_ip

# OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED: the expiry check below words it better.
_CERT_HAS_EXPIRED = 10


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    serial: str

    def as_detail(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "names": [*self.dns_names, *self.ip_addresses],
            "serial": self.serial,
        }


def read_certificate(der: bytes) -> CertificateInfo:
    cert = x509.load_der_x509_certificate(der)
    dns_names: list[str] = []
    ip_addresses: list[str] = []
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        pass
    else:
        if isinstance(san, x509.SubjectAlternativeName):
            dns_names = san.get_values_for_type(x509.DNSName)
            ip_addresses = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        dns_names=tuple(dns_names),
        ip_addresses=tuple(ip_addresses),
        serial=format(cert.serial_number, "x"),
    )


def hostname_matches(info: CertificateInfo, host: str) -> bool:
    """RFC 6125 matching on the subject alternative names; no fallback to the common name.

    A wildcard stands for exactly one whole left-most label, as browsers apply it.
    """
    literal = parse_ip(host)
    if literal is not None:
        return any(ipaddress.ip_address(ip) == literal for ip in info.ip_addresses)
    wanted = host.rstrip(".").lower().split(".")
    for name in info.dns_names:
        pattern = name.rstrip(".").lower().split(".")
        if len(pattern) != len(wanted):
            continue
        if pattern[0] == "*" and len(pattern) > 2 and pattern[1:] == wanted[1:]:
            return True
        if pattern == wanted:
            return True
    return False


def days_left(info: CertificateInfo, now: datetime | None = None) -> int:
    remaining = info.not_after - (now or datetime.now(UTC))
    return math.floor(remaining.total_seconds() / 86400)


def certificate_problems(
    info: CertificateInfo,
    *,
    host: str,
    check_hostname: bool,
    min_days: int | None,
    chain_error: ssl.SSLCertVerificationError | None,
) -> list[str]:
    problems: list[str] = []
    days = days_left(info)
    chain_says_expired = chain_error is not None and chain_error.verify_code == _CERT_HAS_EXPIRED
    if chain_error is not None and not (chain_says_expired and days < 0):
        problems.append(f"certificate not trusted: {chain_error.verify_message}")
    if check_hostname and not hostname_matches(info, host):
        names = ", ".join([*info.dns_names, *info.ip_addresses]) or "no names"
        problems.append(f"certificate is not valid for {host!r} (valid for: {names})")
    now = datetime.now(UTC)
    if info.not_after < now:
        ago = math.floor((now - info.not_after).total_seconds() / 86400)
        problems.append(f"certificate expired {ago} days ago ({info.not_after:%Y-%m-%d})")
    elif info.not_before > now:
        problems.append(f"certificate is not valid before {info.not_before:%Y-%m-%d %H:%M} UTC")
    elif min_days is not None and days < min_days:
        problems.append(f"certificate expires in {days} days (threshold {min_days})")
    return problems


@functools.lru_cache(maxsize=32)
def client_context(*, verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    """A client context, built once per setting: loading the system CAs costs milliseconds.

    The host name is never checked by OpenSSL here (see ``hostname_matches``).
    Raises OSError or ssl.SSLError when ``ca_file`` cannot be loaded.
    """
    if verify:
        context = ssl.create_default_context(cafile=ca_file)
        context.check_hostname = False
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe_tls_error(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
    return f"TLS handshake failed: {reason}"
