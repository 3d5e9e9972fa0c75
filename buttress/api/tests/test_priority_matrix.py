import pytest

from buttress.api.tests.conftest import api_as
from buttress.audit.models import AuditEntry
from buttress.desk import services
from buttress.desk.models import DEFAULT_MATRIX, Level

pytestmark = pytest.mark.django_db

PATH = "/tickets/priority-matrix"


def _cells(**overrides: str) -> list[dict[str, str]]:
    """Every cell at its default, ``high_low="P2"`` overriding one."""
    return [
        {
            "impact": impact,
            "urgency": urgency,
            "priority": overrides.get(
                f"{impact}_{urgency}", str(DEFAULT_MATRIX[(impact, urgency)])
            ),
        }
        for impact in Level.values
        for urgency in Level.values
    ]


def test_staff_read_the_matrix_with_each_cells_default(as_viewer, admin_user):
    services.set_priority_rule(actor=admin_user, impact="low", urgency="low", priority="P3")

    response = as_viewer.get(PATH)

    assert response.status_code == 200, response.content
    cells = response.json()["cells"]
    assert len(cells) == 9
    assert cells[0] == {"impact": "high", "urgency": "high", "priority": "P1", "default": "P1"}
    assert cells[-1] == {"impact": "low", "urgency": "low", "priority": "P3", "default": "P4"}


def test_customers_may_not_read_the_matrix(as_org_admin):
    assert as_org_admin.get(PATH).status_code == 403


def test_an_admin_replaces_the_matrix_and_new_tickets_follow_it(as_admin, org, agent):
    response = as_admin.request("PUT", PATH, {"cells": _cells(high_low="P2", low_low="P3")})

    assert response.status_code == 200, response.content
    answered = {(c["impact"], c["urgency"]): c["priority"] for c in response.json()["cells"]}
    assert answered[("high", "low")] == "P2"
    assert answered[("low", "low")] == "P3"
    ticket = services.create_ticket(org, actor=agent, subject="x", impact="high", urgency="low")
    assert ticket.priority == "P2"
    # One audit entry per changed cell, none for the seven left as they were.
    entries = AuditEntry.objects.filter(object_type="desk.priorityrule")
    assert sorted(e.changes["priority"][1] for e in entries) == ["P2", "P3"]


def test_a_missing_or_repeated_cell_is_refused_and_nothing_changes(as_admin):
    missing = as_admin.request("PUT", PATH, {"cells": _cells(high_low="P2")[:-1]})
    repeated = as_admin.request("PUT", PATH, {"cells": [*_cells(high_low="P2")[:-1], _cells()[0]]})

    assert missing.status_code == 400
    assert "low x low" in str(missing.json()["detail"]["cells"])
    assert repeated.status_code == 400
    assert "high x high" in str(repeated.json()["detail"]["cells"])
    assert services.priority_matrix()[("high", "low")] == "P3"


def test_an_unknown_priority_is_refused(as_admin):
    response = as_admin.request("PUT", PATH, {"cells": _cells(high_high="P9")})

    assert response.status_code == 422
    assert services.priority_matrix()[("high", "high")] == "P1"


def test_agents_limited_admins_and_read_tokens_may_not_change_it(agent, admin_user, org):
    limited = api_as(admin_user)
    admin_user.limited_to.set([org])
    body = {"cells": _cells(high_low="P1")}

    assert api_as(agent).request("PUT", PATH, body).status_code == 403
    assert limited.request("PUT", PATH, body).status_code == 403
    admin_user.limited_to.clear()
    assert api_as(admin_user, scope="read").request("PUT", PATH, body).status_code == 403
    assert services.priority_matrix()[("high", "low")] == "P3"
