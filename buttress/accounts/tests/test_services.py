from __future__ import annotations

import pytest
import time_machine
from django.core.exceptions import ValidationError

from buttress.accounts import services
from buttress.accounts.models import Role, SignInAttempt
from buttress.accounts.services import throttle
from buttress.accounts.tests.conftest import add_backup_codes, add_totp, current_code
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_throttle_says_how_long_to_wait():
    with time_machine.travel("2026-03-01 10:00:00Z", tick=False):
        for _ in range(throttle.SIGN_IN_LIMIT):
            services.note_sign_in_failure(email="a@example.com", ip_address="192.0.2.1")
    with (
        time_machine.travel("2026-03-01 10:05:00Z", tick=False),
        pytest.raises(services.Throttled) as caught,
    ):
        services.check_sign_in_allowed(email="A@Example.com", ip_address="192.0.2.2")

    assert caught.value.minutes == 10


def test_old_attempts_are_pruned_when_new_ones_are_noted():
    with time_machine.travel("2026-03-01 10:00:00Z", tick=False):
        services.note_sign_in_failure(email="a@example.com", ip_address=None)
    with time_machine.travel("2026-03-01 11:00:00Z", tick=False):
        services.note_sign_in_failure(email="b@example.com", ip_address=None)

    assert list(SignInAttempt.objects.values_list("email", flat=True)) == ["b@example.com"]


def test_user_cannot_deactivate_themselves(admin_user):
    with pytest.raises(ValidationError) as caught:
        services.update_user(admin_user, actor=admin_user, is_active=False)

    assert "is_active" in caught.value.message_dict


def test_last_active_admin_cannot_be_demoted(admin_user, agent):
    with pytest.raises(ValidationError):
        services.update_user(admin_user, actor=None, role=Role.AGENT)

    UserFactory(email="second@buttress.example", role=Role.ADMIN)
    services.update_user(admin_user, actor=None, role=Role.AGENT)


def test_user_moved_to_a_customer_role_leaves_teams_and_limits(admin_user, agent, org):
    team = services.create_team(actor=admin_user, name="Desk", members=[agent])
    agent.limited_to.set([org])

    services.update_user(agent, actor=admin_user, role=Role.END_USER, organization=org)

    assert not team.members.exists()
    assert not agent.limited_to.exists()


def test_authenticator_codes_and_backup_codes_are_told_apart(agent):
    device = add_totp(agent)
    add_backup_codes(agent, "abcdefgh")

    assert services.verify_second_factor(agent, "abcd-efgh") is not None
    assert services.verify_second_factor(agent, current_code(device)) == device
    assert services.verify_second_factor(agent, "") is None


def test_first_admin_only_once():
    services.create_first_admin(email="one@example.com", password="a long passphrase!")

    with pytest.raises(services.FirstAdminExists):
        services.create_first_admin(email="two@example.com", password="a long passphrase!")
