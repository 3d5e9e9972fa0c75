from __future__ import annotations

import pytest
from django.urls import reverse

from buttress.accounts.models import Role, Team, User
from buttress.audit.models import AuditEntry
from buttress.testing.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_org_user(other_org):
    return UserFactory(email="bob@globex.example", role=Role.END_USER, organization=other_org)


def _create(client, **fields):
    data = {"full_name": "", "time_zone": "UTC", **fields}
    return client.post(reverse("accounts:user_create"), data)


@pytest.mark.parametrize("who", ["agent", "viewer", "end_user"])
def test_roles_without_user_management_are_forbidden(client, request, who):
    client.force_login(request.getfixturevalue(who))

    assert client.get(reverse("accounts:users")).status_code == 403
    assert client.get(reverse("accounts:user_create")).status_code == 403


def test_provider_admin_lists_everyone(client, admin_user, agent, org_admin, other_org_user):
    client.force_login(admin_user)

    page = client.get(reverse("accounts:users"))

    for person in (admin_user, agent, org_admin, other_org_user):
        assert person.email.encode() in page.content


def test_user_list_filters_by_role_and_text(client, admin_user, agent, org_admin):
    client.force_login(admin_user)

    page = client.get(reverse("accounts:users"), {"role": "org_admin", "q": "acme"})

    assert org_admin.email.encode() in page.content
    assert agent.email.encode() not in page.content


def test_org_admin_sees_only_their_organisations_users(
    client, org_admin, end_user, other_org_user, agent
):
    client.force_login(org_admin)

    page = client.get(reverse("accounts:users"))

    assert end_user.email.encode() in page.content
    assert other_org_user.email.encode() not in page.content
    assert agent.email.encode() not in page.content


def test_org_admin_cannot_open_another_organisations_user(client, org_admin, other_org_user):
    client.force_login(org_admin)

    assert client.get(reverse("accounts:user_edit", args=[other_org_user.pk])).status_code == 404
    response = client.post(
        reverse("accounts:user_action", args=[other_org_user.pk]), {"action": "deactivate"}
    )
    assert response.status_code == 404
    other_org_user.refresh_from_db()
    assert other_org_user.is_active


def test_org_admin_cannot_open_staff(client, org_admin, agent):
    client.force_login(org_admin)

    assert client.get(reverse("accounts:user_edit", args=[agent.pk])).status_code == 404


def test_org_admin_creates_users_in_their_own_organisation(client, org, org_admin):
    client.force_login(org_admin)

    response = _create(client, email="new@acme.example", role="end_user")

    assert response.status_code == 302
    created = User.objects.get(email="new@acme.example")
    assert created.organization == org
    assert not created.has_usable_password()
    assert AuditEntry.objects.filter(action="create", object_id=str(created.pk)).exists()


def test_org_admin_cannot_create_staff(client, org_admin):
    client.force_login(org_admin)

    response = _create(client, email="sneaky@acme.example", role="admin")

    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not User.objects.filter(email="sneaky@acme.example").exists()


def test_admin_creates_staff_with_a_password(client, admin_user):
    client.force_login(admin_user)

    _create(client, email="tech@buttress.example", role="agent", password="a long passphrase!")

    created = User.objects.get(email="tech@buttress.example")
    assert created.role == Role.AGENT
    assert created.check_password("a long passphrase!")


def test_customer_user_needs_an_organisation(client, admin_user):
    client.force_login(admin_user)

    response = _create(client, email="x@acme.example", role="end_user")

    assert b"Choose the organisation of this user." in response.content


def test_duplicate_email_is_a_form_error(client, admin_user, agent):
    client.force_login(admin_user)

    response = _create(client, email="AGENT@buttress.example", role="agent")

    assert b"A user with this email already exists." in response.content


def test_admin_edits_a_user(client, admin_user, agent, org):
    client.force_login(admin_user)

    response = client.post(
        reverse("accounts:user_edit", args=[agent.pk]),
        {
            "email": agent.email,
            "full_name": "Renamed",
            "role": "viewer",
            "time_zone": "Europe/London",
            "limited_to": [org.pk],
        },
    )

    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.full_name, agent.role, agent.time_zone) == ("Renamed", "viewer", "Europe/London")
    assert list(agent.limited_to.all()) == [org]


def test_deactivating_a_user_signs_them_out(client, admin_user, agent):
    browser = type(client)()
    browser.force_login(agent)
    browser.get(reverse("accounts:profile"))
    client.force_login(admin_user)

    client.post(reverse("accounts:user_action", args=[agent.pk]), {"action": "deactivate"})

    agent.refresh_from_db()
    assert not agent.is_active
    assert browser.get(reverse("accounts:profile")).status_code == 302


def test_nobody_can_deactivate_themselves(client, admin_user, agent):
    client.force_login(admin_user)

    client.post(reverse("accounts:user_action", args=[admin_user.pk]), {"action": "deactivate"})

    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_the_last_active_admin_keeps_the_role(client, admin_user):
    other_admin = UserFactory.create(email="second@buttress.example", role=Role.ADMIN)
    client.force_login(other_admin)
    client.post(reverse("accounts:user_action", args=[admin_user.pk]), {"action": "deactivate"})

    response = client.post(
        reverse("accounts:user_edit", args=[other_admin.pk]),
        {"email": other_admin.email, "role": "agent", "time_zone": "UTC"},
    )

    assert b"This is the last active provider admin." in response.content
    other_admin.refresh_from_db()
    assert other_admin.role == Role.ADMIN


def test_limited_admin_manages_only_customers_of_their_organisations(
    client, org, org_admin, other_org_user, agent
):
    limited = UserFactory.create(email="regional@buttress.example", role=Role.ADMIN)
    limited.limited_to.set([org])
    client.force_login(limited)

    assert client.get(reverse("accounts:user_edit", args=[org_admin.pk])).status_code == 200
    assert client.get(reverse("accounts:user_edit", args=[other_org_user.pk])).status_code == 404
    # A colleague is known to them but not theirs to change.
    assert client.get(reverse("accounts:user_edit", args=[agent.pk])).status_code == 403


# --- teams -----------------------------------------------------------------------------------


def test_admin_creates_and_edits_a_team(client, admin_user, agent, viewer):
    client.force_login(admin_user)

    client.post(
        reverse("accounts:team_create"), {"name": "Network", "members": [agent.pk, viewer.pk]}
    )
    team = Team.objects.get(name="Network")
    assert set(team.members.all()) == {agent, viewer}
    client.post(
        reverse("accounts:team_edit", args=[team.pk]),
        {"name": "Networks", "description": "Routers", "members": [agent.pk]},
    )

    team.refresh_from_db()
    assert team.name == "Networks"
    assert list(team.members.all()) == [agent]


def test_customers_cannot_be_team_members(client, admin_user, end_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("accounts:team_create"), {"name": "Mixed", "members": [end_user.pk]}
    )

    assert b"Select a valid choice" in response.content
    assert not Team.objects.exists()


def test_admin_deletes_a_team(client, admin_user):
    team = TeamFactory.create(name="Old")
    client.force_login(admin_user)

    client.post(reverse("accounts:team_delete", args=[team.pk]))

    assert not Team.objects.exists()
    assert AuditEntry.objects.filter(action="delete", object_type="accounts.team").exists()


def test_agents_see_teams_but_cannot_change_them(client, agent):
    team = TeamFactory.create(name="Desk")
    client.force_login(agent)

    assert b"Desk" in client.get(reverse("accounts:teams")).content
    assert client.get(reverse("accounts:team_create")).status_code == 403
    assert client.post(reverse("accounts:team_delete", args=[team.pk])).status_code == 403
    assert Team.objects.exists()


def test_customers_cannot_see_teams(client, org_admin):
    client.force_login(org_admin)

    assert client.get(reverse("accounts:teams")).status_code == 403


def test_a_user_limited_to_an_id_past_64_bits_is_a_form_error(client, admin_user):
    client.force_login(admin_user)

    response = _create(
        client, email="tech@buttress.example", role="agent", limited_to="99999999999999999999"
    )

    assert response.status_code == 200
    assert b"is not a valid value" in response.content
    assert not User.objects.filter(email="tech@buttress.example").exists()


def test_a_team_member_id_past_64_bits_is_a_form_error(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("accounts:team_create"), {"name": "Ops", "members": ["99999999999999999999"]}
    )

    assert response.status_code == 200
    assert b"is not a valid value" in response.content
    assert not Team.objects.exists()
