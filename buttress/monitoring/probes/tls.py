"""TLS certificate check: expiry, chain trust and host name of the certificate a server shows."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any

from buttress.monitoring.probes import certs
from buttress.monitoring.probes.network import (
    SYSTEM,
    Network,
    ResolutionFailed,
    TargetRefused,
    close_quietly,
    describe_os_error,
    open_stream,
)
from buttress.monitoring.probes.result import ProbeResult, Stopwatch, bounded, down, judge, unknown
from buttress.monitoring.probes.validate import check_host, check_int, check_port, check_timeout


@dataclass(frozen=True)
class TlsSpec:
    host: str
    port: int = 443
    server_name: str | None = None  # SNI and the name checked; the host when unset
    min_days_valid: int = 14
    verify_chain: bool = True
    ca_file: str | None = None  # trust these CAs instead of the system's
    check_hostname: bool = True
    timeout: float = 10.0
    allow_private: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", check_host("host", self.host))
        check_port("port", self.port)
        if self.server_name is not None:
            object.__setattr__(self, "server_name", check_host("server_name", self.server_name))
        check_int("min_days_valid", self.min_days_valid, low=0, high=3650)
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise ValueError(f"ca_file: {self.ca_file!r} is not a readable file")
        object.__setattr__(self, "timeout", check_timeout(self.timeout))

    @property
    def name(self) -> str:
        return self.server_name or self.host


async def probe_tls(spec: TlsSpec, *, network: Network = SYSTEM) -> ProbeResult:
    return await bounded(spec.timeout, _probe(spec, network), kind="tls")


async def _probe(spec: TlsSpec, network: Network) -> ProbeResult:
    try:
        verifying = certs.client_context(verify=spec.verify_chain, ca_file=spec.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return unknown(f"cannot load CA file {spec.ca_file}: {exc}")
    clock = Stopwatch()
    chain_error: ssl.SSLCertVerificationError | None = None
    try:
        try:
            der, detail = await _handshake(spec, network, verifying)
        except ssl.SSLCertVerificationError as exc:
            # Shake hands again without verification only to read what the server shows.
            chain_error = exc
            der, detail = await _handshake(spec, network, certs.client_context(verify=False))
    except (TargetRefused, ResolutionFailed) as exc:
        return down(str(exc))
    except ssl.SSLError as exc:
        return down(certs.describe_tls_error(exc))
    except OSError as exc:
        return down(describe_os_error(exc))
    latency = clock.ms()
    info = certs.read_certificate(der)
    days = certs.days_left(info)
    detail.update(
        info.as_detail(), days_left=days, chain_verified=spec.verify_chain and not chain_error
    )
    problems = certs.certificate_problems(
        info,
        host=spec.name,
        check_hostname=spec.check_hostname,
        min_days=spec.min_days_valid,
        chain_error=chain_error,
    )
    return judge(
        problems,
        success=f"certificate valid for {days} more days",
        latency_ms=latency,
        detail=detail,
    )


async def _handshake(
    spec: TlsSpec, network: Network, context: ssl.SSLContext
) -> tuple[bytes, dict[str, Any]]:
    _reader, writer, address = await open_stream(
        network,
        spec.host,
        spec.port,
        allow_private=spec.allow_private,
        tls=context,
        server_hostname=spec.name,
    )
    try:
        tls: ssl.SSLObject = writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True)
        cipher = tls.cipher()
        detail: dict[str, Any] = {
            "address": address,
            "tls_version": tls.version(),
            "cipher": cipher[0] if cipher else None,
        }
    finally:
        await close_quietly(writer)
    if der is None:
        raise ssl.SSLError("the server sent no certificate")
    return der, detail
