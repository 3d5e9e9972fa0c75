from __future__ import annotations

from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from buttress.accounts.models import Role
from buttress.notify import crypto
from buttress.notify.models import ContactMethod, Subscription
from buttress.notify.services import people
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db

SLACK = "slack://TA1234XYZ/BB12345XYZ/CCC1234567890abcdef"


def test_an_apprise_url_is_stored_encrypted_and_shown_masked():
    agent = UserFactory.create(role=Role.AGENT)

    method = people.add_contact_method(
        agent, actor=agent, kind="apprise", label="Slack", target=SLACK
    )

    stored = ContactMethod.objects.get(pk=method.pk)
    assert SLACK not in stored.target_sealed
    assert "CCC1234567890abcdef" not in stored.target_hint
    assert stored.target_hint.startswith("slack://")
    assert people.reveal(stored) == SLACK


def test_a_sealed_secret_survives_a_key_rotation_through_the_fallbacks(settings):
    sealed = crypto.seal("tgram://bot/chat")
    old = settings.SECRET_KEY

    with override_settings(SECRET_KEY="a-new-key-" + "x" * 40, SECRET_KEY_FALLBACKS=[old]):
        assert crypto.unseal(sealed) == "tgram://bot/chat"
    with (
        override_settings(SECRET_KEY="a-new-key-" + "x" * 40, SECRET_KEY_FALLBACKS=[]),
        pytest.raises(crypto.Unreadable),
    ):
        crypto.unseal(sealed)


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        ("email", "not an address", "target"),
        ("apprise", "nonsense://what", "target"),
        ("apprise", "", "target"),
        ("pigeon", "a@example.com", "kind"),
    ],
)
def test_unusable_targets_are_refused_naming_the_field(kind, target, field):
    agent = UserFactory.create(role=Role.AGENT)
    with pytest.raises(ValidationError) as caught:
        people.add_contact_method(agent, actor=agent, kind=kind, label="x", target=target)
    assert field in caught.value.message_dict


def test_a_customer_may_not_aim_an_apprise_url_at_a_private_address(org):
    customer = UserFactory.create(role=Role.ORG_ADMIN, organization=org)
    agent = UserFactory.create(role=Role.AGENT)

    with pytest.raises(ValidationError) as caught:
        people.add_contact_method(
            customer, actor=customer, kind="apprise", label="x", target="json://127.0.0.1:8080/"
        )
    assert "private address" in caught.value.message_dict["target"][0]
    people.add_contact_method(
        agent, actor=agent, kind="apprise", label="x", target="json://127.0.0.1:8080/"
    )


def test_a_rule_needs_both_ends_of_the_quiet_hours():
    agent = UserFactory.create(role=Role.AGENT)
    method = people.add_contact_method(
        agent, actor=agent, kind="email", label="m", target="a@b.example"
    )
    with pytest.raises(ValidationError) as caught:
        people.add_rule(agent, actor=agent, method=method, quiet_start=time(22))
    assert "quiet_end" in caught.value.message_dict


def test_a_rule_may_only_use_ones_own_method():
    agent, other = UserFactory.create_batch(2, role=Role.AGENT)
    method = people.add_contact_method(
        other, actor=other, kind="email", label="m", target="a@b.example"
    )
    with pytest.raises(ValidationError) as caught:
        people.add_rule(agent, actor=agent, method=method)
    assert "method" in caught.value.message_dict


def test_subscriptions_are_replaced_by_the_new_set():
    agent = UserFactory.create(role=Role.AGENT)
    people.set_subscriptions(actor=agent, user=agent, events=["new_ticket", "assigned"])

    people.set_subscriptions(
        actor=agent, user=agent, events=["assigned", "sla_breached"], scope="all"
    )

    rows = Subscription.objects.filter(user=agent)
    assert sorted((s.event, s.scope) for s in rows) == [
        ("assigned", "all"),
        ("sla_breached", "all"),
    ]
    with pytest.raises(ValidationError):
        people.set_subscriptions(actor=agent, user=agent, events=["everything"])
