from __future__ import annotations

from typing import Any

import pytest

from buttress.desk import services as desk
from buttress.desk.models import Ticket
from buttress.testing.factories import ContactFactory


@pytest.fixture
def requester(org: Any) -> Any:
    return ContactFactory.create(organization=org, name="Robin", email="robin@acme.example")


@pytest.fixture
def outage(org: Any, agent: Any, requester: Any) -> Ticket:
    return desk.create_ticket(
        org, actor=agent, subject="Mail is down", type="incident", requester=requester
    )
