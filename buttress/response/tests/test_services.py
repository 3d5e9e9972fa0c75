"""Severity, roles, status updates, the postmortem and its action items."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from buttress.accounts.models import Role
from buttress.audit.models import AuditEntry
from buttress.desk import services as desk
from buttress.desk.models import Ticket, TicketType
from buttress.response import services
from buttress.response.models import EventKind, IncidentEvent, RoleAssignment, StatusUpdate
from buttress.response.tasks import send_status_update
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _kinds(ticket: Ticket) -> list[str]:
    return list(
        IncidentEvent.objects.filter(incident__ticket=ticket)
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )


def test_setting_the_severity_is_logged_and_audited_but_leaves_priority_alone(outage, agent):
    priority = outage.priority

    incident = services.set_severity(outage, "SEV1", actor=agent, reason="all users")

    outage.refresh_from_db()
    assert incident.severity == "SEV1"
    assert outage.priority == priority
    event = IncidentEvent.objects.get(kind=EventKind.SEVERITY_CHANGED)
    assert event.detail == {"before": None, "after": "SEV1", "reason": "all users"}
    assert AuditEntry.objects.filter(object_type__icontains="incident").exists()


def test_setting_the_same_severity_again_is_no_event(outage, agent):
    services.set_severity(outage, "SEV2", actor=agent)
    services.set_severity(outage, "SEV2", actor=agent)

    assert _kinds(outage) == [EventKind.SEVERITY_CHANGED]


def test_an_unknown_severity_is_refused(outage, agent):
    with pytest.raises(ValidationError) as caught:
        services.set_severity(outage, "SEV0", actor=agent)

    assert "severity" in caught.value.message_dict


def test_only_incident_tickets_have_incident_work(org, agent):
    request = desk.create_ticket(
        org, actor=agent, subject="New laptop", type=TicketType.SERVICE_REQUEST
    )

    with pytest.raises(ValidationError):
        services.set_severity(request, "SEV3", actor=agent)


def test_assigning_a_commander_hands_the_role_over(outage, agent, admin_user):
    services.assign_role(outage, role="commander", user=agent, actor=agent)

    services.assign_role(outage, role="commander", user=admin_user, actor=agent)

    [holder] = RoleAssignment.objects.filter(role="commander")
    assert holder.user == admin_user
    assert _kinds(outage) == [
        EventKind.ROLE_ASSIGNED,
        EventKind.ROLE_UNASSIGNED,
        EventKind.ROLE_ASSIGNED,
    ]


def test_other_roles_may_be_held_by_several_people(outage, agent, admin_user):
    services.assign_role(outage, role="other", title="DBA", user=agent, actor=agent)
    services.assign_role(outage, role="other", title="DBA", user=admin_user, actor=agent)

    assert RoleAssignment.objects.filter(role="other").count() == 2


def test_another_role_needs_a_title(outage, agent):
    with pytest.raises(ValidationError) as caught:
        services.assign_role(outage, role="other", user=agent, actor=agent)

    assert "title" in caught.value.message_dict


def test_a_customer_cannot_be_given_a_role(outage, agent, org_admin):
    with pytest.raises(ValidationError) as caught:
        services.assign_role(outage, role="scribe", user=org_admin, actor=agent)

    assert "user" in caught.value.message_dict


def test_staff_limited_to_another_organisation_cannot_be_given_a_role(outage, agent, other_org):
    outsider = UserFactory.create(role=Role.AGENT)
    outsider.limited_to.add(other_org)

    with pytest.raises(ValidationError):
        services.assign_role(outage, role="scribe", user=outsider, actor=agent)


def test_releasing_a_role_is_logged(outage, agent):
    assignment = services.assign_role(outage, role="scribe", user=agent, actor=agent)

    services.unassign_role(assignment, actor=agent)

    assert not RoleAssignment.objects.exists()
    assert _kinds(outage)[-1] == EventKind.ROLE_UNASSIGNED


def test_a_customer_facing_update_is_mailed_to_the_requester_in_the_tickets_thread(
    outage, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        update = services.post_status_update(
            outage,
            body="We found the cause.",
            visibility="customer",
            phase="identified",
            actor=agent,
        )

    assert callbacks
    assert send_status_update.call(update.pk) is True
    [message] = mail.outbox
    assert message.to == ["robin@acme.example"]
    assert message.subject == f"Re: [{outage.reference}] Mail is down"
    assert message.extra_headers["In-Reply-To"].startswith(f"<ticket-{outage.number}@")
    assert "Status: Identified" in message.body
    assert "We found the cause." in message.body
    update.refresh_from_db()
    assert update.mailed_at is not None


def test_a_status_update_is_mailed_once(outage, agent):
    update = services.post_status_update(
        outage, body="Fixed.", visibility="customer", phase="resolved", actor=agent
    )

    assert send_status_update.call(update.pk) is True
    assert send_status_update.call(update.pk) is False
    assert len(mail.outbox) == 1


def test_a_status_update_also_reaches_the_requesters_chat_targets(outage, agent, org):
    from buttress.notify.models import ContactMethod, Notification

    customer = UserFactory.create(
        role=Role.END_USER, organization=org, email="robin.portal@acme.example"
    )
    customer.contact = outage.requester
    customer.save()
    target = ContactMethod.objects.create(
        user=customer, kind="apprise", label="ntfy", target_sealed="x", target_hint="ntfy://t"
    )
    update = services.post_status_update(
        outage, body="We found the cause.", visibility="customer", phase="identified", actor=agent
    )

    assert send_status_update.call(update.pk) is True

    [pushed] = Notification.objects.filter(method=target)
    assert pushed.ticket == outage
    assert pushed.event == "agent_replied"
    assert "We found the cause." in pushed.body


def test_an_internal_update_is_not_mailed_and_its_log_entry_is_internal(
    outage, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        update = services.post_status_update(outage, body="Looking at MX", actor=agent)

    assert callbacks == []
    assert send_status_update.call(update.pk) is False
    assert mail.outbox == []
    assert IncidentEvent.objects.get(kind=EventKind.STATUS_UPDATE).is_internal


def test_an_empty_update_is_refused(outage, agent):
    with pytest.raises(ValidationError) as caught:
        services.post_status_update(outage, body="  ", actor=agent)

    assert "body" in caught.value.message_dict
    assert not StatusUpdate.objects.exists()


def test_the_postmortem_is_written_section_by_section(outage, agent):
    services.save_postmortem(outage, actor=agent, summary="Mail down for 40 min")

    postmortem = services.save_postmortem(outage, actor=agent, root_cause="Expired cert")

    assert postmortem.summary == "Mail down for 40 min"
    assert postmortem.root_cause == "Expired cert"
    saved = IncidentEvent.objects.filter(kind=EventKind.POSTMORTEM_SAVED).order_by("id")
    assert [e.detail["sections"] for e in saved] == [["summary"], ["root_cause"]]


def test_the_timeline_excerpt_is_built_from_the_incident_log(outage, agent):
    services.set_severity(outage, "SEV2", actor=agent)
    services.assign_role(outage, role="commander", user=agent, actor=agent)

    text = services.excerpt(outage.incident)

    assert "severity unset → SEV2" in text
    assert "is Incident commander" in text


def test_an_action_item_becomes_a_problem_that_explains_the_incident(outage, agent):
    item = services.add_action_item(
        outage, description="Monitor cert expiry", owner=agent, actor=agent
    )

    problem = services.convert_action_item(item, kind="problem", actor=agent)

    assert problem.type == TicketType.PROBLEM
    assert problem.assignee == agent
    assert problem.organization == outage.organization
    assert list(problem.incidents.all()) == [outage]
    item.refresh_from_db()
    assert item.ticket == problem
    assert _kinds(outage)[-1] == EventKind.ACTION_CONVERTED


def test_an_action_item_becomes_a_ticket_related_to_the_incident(outage, agent):
    item = services.add_action_item(outage, description="Renew certs", actor=agent)

    opened = services.convert_action_item(item, kind="ticket", actor=agent)

    assert opened.type == TicketType.SERVICE_REQUEST
    assert list(opened.related.all()) == [outage]
    assert "Action item from the postmortem of" in opened.description


def test_an_action_item_is_opened_once(outage, agent):
    item = services.add_action_item(outage, description="Renew certs", actor=agent)
    services.convert_action_item(item, kind="ticket", actor=agent)

    with pytest.raises(ValidationError):
        services.convert_action_item(item, kind="problem", actor=agent)
