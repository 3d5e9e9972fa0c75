from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from buttress.accounts import services
from buttress.accounts.models import ApiToken, Role, Team, User, UserSession
from buttress.accounts.tests.conftest import add_totp, signed_in_browser
from buttress.api.tests.conftest import api_as
from buttress.lib.timeutil import now
from buttress.testing.factories import OrganizationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_org_user(other_org):
    return UserFactory(email="bob@globex.example", role=Role.END_USER, organization=other_org)


def test_me_describes_the_caller(org_admin, org):
    add_totp(org_admin)

    body = api_as(org_admin).get("/me").json()

    assert body["email"] == org_admin.email
    assert body["role"] == "org_admin"
    assert body["organization"] == org.pk
    assert body["has_2fa"] is True
    assert body["limited_to"] == []


def test_admin_lists_users_with_filters(admin_user, agent, org_admin, org):
    api = api_as(admin_user)

    everyone = api.get("/users").json()["items"]
    of_org = api.get("/users", organization=org.pk).json()["items"]
    agents = api.get("/users", role="agent", q="AGENT@").json()["items"]

    assert {u["email"] for u in everyone} >= {admin_user.email, agent.email, org_admin.email}
    assert [u["email"] for u in of_org] == [org_admin.email]
    assert [u["email"] for u in agents] == [agent.email]


def test_user_list_pages_with_a_cursor(admin_user):
    for n in range(5):
        UserFactory(email=f"p{n}@buttress.example")
    api = api_as(admin_user)

    first = api.get("/users", limit=3).json()
    second = api.get("/users", limit=3, cursor=first["next_cursor"]).json()

    emails = [u["email"] for u in first["items"] + second["items"]]
    assert len(emails) == len(set(emails)) == 6


@pytest.mark.parametrize("who", ["agent", "viewer", "end_user"])
def test_roles_without_user_management_get_403(request, who):
    assert api_as(request.getfixturevalue(who)).get("/users").status_code == 403


def test_agent_is_refused_users_it_knows_of_and_not_told_of_others(agent, end_user, org):
    limited = UserFactory.create(email="narrow@buttress.example", role=Role.AGENT)
    limited.limited_to.set([org])
    outsider = UserFactory.create(
        email="x@globex.example",
        role=Role.END_USER,
        organization=OrganizationFactory.create(slug="globex"),
    )
    api = api_as(limited)

    assert api.get(f"/users/{end_user.pk}").status_code == 403
    assert api.get(f"/users/{outsider.pk}").status_code == 404


def test_org_admin_sees_only_their_users(org_admin, end_user, other_org_user, other_org):
    api = api_as(org_admin)

    emails = {u["email"] for u in api.get("/users").json()["items"]}

    assert emails == {org_admin.email, end_user.email}
    assert api.get(f"/users/{other_org_user.pk}").status_code == 404
    assert api.get("/users", organization=other_org.pk).status_code == 404
    assert api.patch(f"/users/{other_org_user.pk}", {"full_name": "x"}).status_code == 404
    assert api.delete(f"/users/{other_org_user.pk}").status_code == 404


def test_org_admin_creates_a_user_in_their_organisation(org_admin, org):
    response = api_as(org_admin).post("/users", {"email": "new@acme.example", "role": "end_user"})

    assert response.status_code == 201
    assert response.json()["organization"] == org.pk
    assert User.objects.get(email="new@acme.example").organization == org


def test_org_admin_cannot_create_staff_or_users_elsewhere(org_admin, other_org):
    api = api_as(org_admin)

    staff = api.post("/users", {"email": "s@acme.example", "role": "admin"})
    elsewhere = api.post(
        "/users", {"email": "e@acme.example", "role": "end_user", "organization": other_org.pk}
    )
    promote = api.patch(f"/users/{org_admin.pk}", {"role": "admin"})

    assert staff.status_code == 403
    assert elsewhere.status_code == 404
    assert promote.status_code == 403
    assert not User.objects.filter(email__in=["s@acme.example", "e@acme.example"]).exists()


def test_admin_creates_limited_staff(admin_user, org):
    response = api_as(admin_user).post(
        "/users",
        {"email": "tech@buttress.example", "role": "agent", "limited_to": [org.pk]},
    )

    assert response.status_code == 201
    assert response.json()["limited_to"] == [org.pk]


def test_bad_user_input_is_a_400_not_a_500(admin_user, agent):
    api = api_as(admin_user)

    assert api.post("/users", {"email": "not-an-email", "role": "agent"}).status_code == 400
    assert api.post("/users", {"email": agent.email, "role": "agent"}).status_code == 400
    assert api.post("/users", {"email": "x@y.example", "role": "emperor"}).status_code == 422
    assert api.post("/users", {"email": "c@y.example", "role": "end_user"}).status_code == 400
    assert api.patch(f"/users/{agent.pk}", {"time_zone": "Mars/Olympus"}).status_code == 400
    assert api.patch(f"/users/{agent.pk}", {"email": None}).status_code == 400


def test_patch_changes_a_user_and_delete_deactivates(admin_user, agent):
    api = api_as(admin_user)

    patched = api.patch(f"/users/{agent.pk}", {"full_name": "Agent Smith", "role": "viewer"})
    deleted = api.delete(f"/users/{agent.pk}")

    assert patched.json()["full_name"] == "Agent Smith"
    assert patched.json()["role"] == "viewer"
    assert deleted.status_code == 204
    agent.refresh_from_db()
    assert not agent.is_active


def test_moving_a_customer_to_staff_clears_the_organisation(admin_user, end_user):
    response = api_as(admin_user).patch(f"/users/{end_user.pk}", {"role": "agent"})

    assert response.status_code == 200
    assert response.json()["organization"] is None


def test_read_token_cannot_change_users(admin_user, agent):
    api = api_as(admin_user, scope="read")

    assert api.patch(f"/users/{agent.pk}", {"full_name": "x"}).status_code == 403


# --- teams -----------------------------------------------------------------------------------


def test_team_crud_by_admin(admin_user, agent, viewer):
    api = api_as(admin_user)

    created = api.post("/teams", {"name": "NOC", "members": [agent.pk]})
    team_id = created.json()["id"]
    patched = api.patch(f"/teams/{team_id}", {"members": [agent.pk, viewer.pk]})
    listed = api.get("/teams").json()["items"]
    deleted = api.delete(f"/teams/{team_id}")

    assert created.status_code == 201
    assert patched.json()["members"] == sorted([agent.pk, viewer.pk])
    assert [t["name"] for t in listed] == ["NOC"]
    assert deleted.status_code == 204
    assert not Team.objects.exists()


def test_team_rules(admin_user, agent, end_user, org_admin):
    team = TeamFactory.create(name="Desk")

    assert api_as(agent).get(f"/teams/{team.pk}").status_code == 200
    assert api_as(agent).patch(f"/teams/{team.pk}", {"name": "x"}).status_code == 403
    assert api_as(org_admin).get("/teams").status_code == 403
    assert api_as(admin_user).get("/teams/999999").status_code == 404
    bad = api_as(admin_user).post("/teams", {"name": "Mixed", "members": [end_user.pk]})
    assert bad.status_code == 400
    duplicate = api_as(admin_user).post("/teams", {"name": "desk"})
    assert duplicate.status_code == 400


# --- tokens ----------------------------------------------------------------------------------


def test_token_is_returned_once_and_works(agent):
    api = api_as(agent)
    expiry = (now() + timedelta(days=7)).isoformat()

    created = api.post("/tokens", {"name": "ci", "scope": "read", "expires_at": expiry})

    assert created.status_code == 201
    secret = created.json()["token"]
    me = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    listed = api.get("/tokens").json()["items"]
    assert all("token" not in item for item in listed)
    assert {item["name"] for item in listed} == {"tests", "ci"}
    assert secret.split("_", 2)[2] not in str(ApiToken.objects.filter(name="ci").values().get())


def test_revoked_token_stops_working(agent):
    api = api_as(agent)
    created = api.post("/tokens", {"name": "temp"}).json()

    assert api.delete(f"/tokens/{created['id']}").status_code == 204
    me = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"})
    assert me.status_code == 401


def test_tokens_are_private_to_their_owner(agent, viewer):
    theirs = services.create_token(viewer, actor=viewer, name="private")

    assert api_as(agent).delete(f"/tokens/{theirs.token.pk}").status_code == 404
    assert api_as(agent).get(f"/tokens/{theirs.token.pk}").status_code == 404


def test_admin_issues_tokens_for_others_but_nobody_else_does(admin_user, agent, viewer):
    for_agent = api_as(admin_user).post("/tokens", {"name": "bot", "user": agent.pk})
    by_agent = api_as(agent).post("/tokens", {"name": "bot", "user": viewer.pk})

    assert for_agent.status_code == 201
    assert for_agent.json()["user"] == agent.pk
    assert by_agent.status_code == 403


def test_token_expiry_in_the_past_is_a_400(agent):
    past = (now() - timedelta(days=1)).isoformat()

    assert api_as(agent).post("/tokens", {"name": "x", "expires_at": past}).status_code == 400


# --- sessions --------------------------------------------------------------------------------


def test_sessions_list_and_revoke(agent):
    browser = signed_in_browser(agent)
    other = signed_in_browser(agent)
    api = api_as(agent)

    sessions = api.get("/sessions").json()["items"]
    target = UserSession.objects.get(session_key=other.session.session_key)

    assert len(sessions) == 2
    assert api.delete(f"/sessions/{target.pk}").status_code == 204
    assert other.get("/account/").status_code == 302
    assert browser.get("/account/").status_code == 200


def test_session_api_marks_the_current_browser_session(agent):
    browser = signed_in_browser(agent)

    items = browser.get("/api/v1/sessions").json()["items"]

    assert [item["current"] for item in items] == [True]


def test_another_users_session_is_not_found(agent, viewer):
    signed_in_browser(viewer)
    theirs = UserSession.objects.get(user=viewer)

    assert api_as(agent).delete(f"/sessions/{theirs.pk}").status_code == 404
