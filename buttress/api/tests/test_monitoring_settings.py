import pytest

from buttress.api.tests.conftest import api_as
from buttress.audit.models import AuditEntry
from buttress.monitoring import checking

pytestmark = pytest.mark.django_db


def _path(org) -> str:
    return f"/organizations/{org.pk}/monitoring-settings"


def test_the_default_policy_is_staff(as_org_admin, org):
    response = as_org_admin.get(_path(org))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "organization": org.pk,
        "private_targets": "staff",
        "resolve_incidents": None,
        "resolves_incidents": True,
    }


def test_a_provider_admin_sets_the_policy_for_the_runners(as_admin, org):
    response = as_admin.request("PUT", _path(org), {"private_targets": "refused"})

    assert response.status_code == 200, response.content
    assert response.json()["private_targets"] == "refused"
    assert checking.policies([org.pk]) == {org.pk: "refused"}
    assert AuditEntry.objects.filter(object_type="monitoring.monitoringsettings").count() == 1


def test_customers_agents_and_read_tokens_may_not_change_it(
    as_org_admin, as_agent, admin_user, org
):
    body = {"private_targets": "allowed"}

    assert as_org_admin.request("PUT", _path(org), body).status_code == 403
    assert as_agent.request("PUT", _path(org), body).status_code == 403
    assert api_as(admin_user, scope="read").request("PUT", _path(org), body).status_code == 403
    assert checking.policies([org.pk]) == {org.pk: "staff"}


def test_an_unknown_policy_is_refused(as_admin, org):
    response = as_admin.request("PUT", _path(org), {"private_targets": "sometimes"})

    assert response.status_code == 422
    assert checking.policies([org.pk]) == {org.pk: "staff"}


def test_another_organisations_settings_answer_404(as_org_admin, other_org):
    assert as_org_admin.get(_path(other_org)).status_code == 404
    put = as_org_admin.request("PUT", _path(other_org), {"private_targets": "allowed"})
    assert put.status_code == 404


def test_recoveries_keep_incidents_open_when_the_organisation_says_so(as_admin, org, settings):
    settings.MONITORING_RESOLVE_INCIDENTS = True

    kept = as_admin.request("PUT", _path(org), {"resolve_incidents": False})
    assert kept.status_code == 200, kept.content
    assert kept.json()["private_targets"] == "staff"  # absent: unchanged
    assert (kept.json()["resolve_incidents"], kept.json()["resolves_incidents"]) == (False, False)

    default = as_admin.request("PUT", _path(org), {"resolve_incidents": None})
    assert (default.json()["resolve_incidents"], default.json()["resolves_incidents"]) == (
        None,
        True,
    )
    unchanged = as_admin.request("PUT", _path(org), {"private_targets": "allowed"})
    assert unchanged.json()["resolve_incidents"] is None


def test_a_non_boolean_choice_is_refused(as_admin, org):
    response = as_admin.request("PUT", _path(org), {"resolve_incidents": "sometimes"})

    assert response.status_code == 422
    assert "resolve_incidents" in response.content.decode()
