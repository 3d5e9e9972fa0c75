from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from buttress.monitoring.tests.servers import Issued, make_ca, make_leaf


@dataclass(frozen=True)
class Pki:
    ca: Issued
    trusted: Issued  # signed by ca, for localhost and 127.0.0.1
    self_signed: Issued
    expiring: Issued  # signed by ca, 3 days and an hour left
    expired: Issued  # signed by ca, ended 2 days and an hour ago


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_cert, ca_key = make_ca(directory)
    signer = (ca_cert, ca_key)
    return Pki(
        ca=ca,
        trusted=make_leaf(directory, "trusted", issuer=signer),
        self_signed=make_leaf(directory, "self-signed"),
        expiring=make_leaf(
            directory, "expiring", valid_for=timedelta(days=3, hours=1), issuer=signer
        ),
        expired=make_leaf(
            directory, "expired", valid_for=-timedelta(days=2, hours=1), issuer=signer
        ),
    )
