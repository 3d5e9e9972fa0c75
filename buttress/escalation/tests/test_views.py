from __future__ import annotations

import pytest
from django.urls import reverse

from buttress.escalation.models import Escalation, EscalationPolicy, EscalationState
from buttress.escalation.tests.helpers import incident, run_due, staff
from buttress.testing.factories import TeamFactory

pytestmark = pytest.mark.django_db


def _form(**fields):
    return {"organization": "", "name": "Night", "repeat": "1", "ack_timeout": ""} | fields


def test_admin_adds_and_edits_a_policy_through_the_pages(client, admin_user, org):
    one, team = staff("one"), TeamFactory.create(name="Ops")
    client.force_login(admin_user)
    page = client.get(reverse("escalation:policy_create"))
    assert page.status_code == 200
    response = client.post(
        reverse("escalation:policy_create"),
        _form(
            organization=str(org.pk),
            step_0_users=[str(one.pk)],
            step_0_wait="5",
            step_2_teams=[str(team.pk)],
        ),
    )
    assert response.status_code == 302, response.content
    policy = EscalationPolicy.objects.get()
    assert policy.organization == org
    steps = list(policy.steps.order_by("position"))
    assert [(s.wait_minutes, list(s.users.all()), list(s.teams.all())) for s in steps] == [
        (5, [one], []),
        (0, [], [team]),
    ]
    listing = client.get(reverse("escalation:policy_list")).content.decode()
    assert "Night" in listing
    assert "team Ops" in listing

    edit = client.post(
        reverse("escalation:policy_edit", kwargs={"policy_id": policy.pk}),
        _form(name="Night shift", step_0_users=[str(one.pk)], ack_timeout="15"),
    )
    assert edit.status_code == 302
    policy.refresh_from_db()
    assert (policy.name, policy.ack_timeout, policy.steps.count()) == ("Night shift", 15, 1)


def test_a_policy_without_steps_is_a_form_error(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("escalation:policy_create"), _form())
    assert response.status_code == 200
    assert "A policy needs at least one step." in response.content.decode()
    assert not EscalationPolicy.objects.exists()


def test_agents_read_policies_but_may_not_add_them(client, agent):
    client.force_login(agent)
    assert client.get(reverse("escalation:policy_list")).status_code == 200
    assert client.get(reverse("escalation:policy_create")).status_code == 403


def test_the_ticket_page_pages_acknowledges_and_cancels(client, agent, org):
    one = staff("one")
    from buttress.escalation import services

    policy = services.create_policy(
        org,
        actor=None,
        name="Primary",
        steps=[services.StepSpec(wait_minutes=5, users=[one], teams=[])],
        repeat=1,
    )
    ticket = incident(org)
    client.force_login(agent)
    detail = reverse("desk:detail", kwargs={"pk": ticket.pk})
    assert "Page now" in client.get(detail).content.decode()

    started = client.post(
        reverse("escalation:start", kwargs={"ticket_id": ticket.pk}), {"policy": str(policy.pk)}
    )
    assert started.status_code == 302
    escalation = Escalation.objects.get(ticket=ticket)
    assert run_due(escalation)
    page = client.get(detail).content.decode()
    assert "Step 1: One" in page
    assert "Acknowledge" in page

    client.post(reverse("escalation:acknowledge", kwargs={"ticket_id": ticket.pk}))
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    client.post(reverse("escalation:cancel", kwargs={"ticket_id": ticket.pk}))
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.CANCELLED


def test_a_policy_of_another_organisation_cannot_be_started_from_the_page(
    client, agent, org, other_org
):
    from buttress.escalation import services

    foreign = services.create_policy(
        other_org,
        actor=None,
        name="Theirs",
        steps=[services.StepSpec(wait_minutes=5, users=[staff("one")], teams=[])],
    )
    ticket = incident(org)
    client.force_login(agent)
    response = client.post(
        reverse("escalation:start", kwargs={"ticket_id": ticket.pk}), {"policy": str(foreign.pk)}
    )
    assert response.status_code == 302
    assert not Escalation.objects.exists()
