import pytest

from buttress.assets import services as assets
from buttress.tenancy import services as tenancy

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(org, other_org, agent, admin_user):
    assets.create_asset(org, actor=agent, name="db")
    assets.create_asset(other_org, actor=admin_user, name="web")
    tenancy.create_site(org, actor=admin_user, name="HQ")


def test_audit_lists_newest_first(as_agent, history):
    items = as_agent.get("/audit").json()["items"]

    assert [e["object_repr"] for e in items] == ["HQ", "web", "db"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"object_type": "tenancy.site"}, ["HQ"]),
        ({"actor": "agent@buttress.example"}, ["db"]),
        ({"action": "create", "q": "we"}, ["web"]),
    ],
)
def test_audit_filters(as_agent, history, query, expected):
    items = as_agent.get("/audit", **query).json()["items"]

    assert [e["object_repr"] for e in items] == expected


def test_audit_filters_by_organisation_and_actor_id(as_agent, history, org, agent):
    items = as_agent.get("/audit", organization=org.pk, actor=str(agent.pk)).json()["items"]

    assert [e["object_repr"] for e in items] == ["db"]


def test_audit_filters_by_time(as_agent, history):
    first = as_agent.get("/audit").json()["items"][-1]

    later = as_agent.get("/audit", since=first["at"]).json()["items"]
    earlier = as_agent.get("/audit", until=first["at"]).json()["items"]

    assert len(later) == 3
    assert earlier == []


def test_audit_entry_shows_field_changes(as_agent, agent, org):
    asset = assets.create_asset(org, actor=agent, name="db")
    assets.update_asset(asset, actor=agent, criticality="critical")

    entry = as_agent.get("/audit", action="update").json()["items"][0]

    assert entry["changes"] == {"criticality": ["medium", "critical"]}
    assert entry["object_id"] == str(asset.pk)


def test_customer_may_not_read_the_audit_log(as_org_admin, org):
    assert as_org_admin.get("/audit").status_code == 403


def test_unknown_action_is_refused(as_agent):
    assert as_agent.get("/audit", action="explode").status_code == 422
