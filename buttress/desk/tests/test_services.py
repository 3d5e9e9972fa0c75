import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from buttress.accounts.models import Role
from buttress.audit.models import AuditEntry
from buttress.desk import services
from buttress.desk.models import (
    DEFAULT_MATRIX,
    EventKind,
    PriorityRule,
    Reply,
    Status,
    Ticket,
    TicketEvent,
    TimeEntry,
)
from buttress.testing.factories import AssetFactory, ContactFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _ticket(org, agent, **fields):
    fields.setdefault("subject", "Printer on fire")
    return services.create_ticket(org, actor=agent, **fields)


def _kinds(ticket):
    return list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))


def test_numbers_are_unique_and_increasing_over_many_creates(org, agent):
    tickets = [_ticket(org, agent, subject=f"t{i}") for i in range(40)]

    numbers = [t.number for t in tickets]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 40
    assert tickets[0].reference == f"T-{tickets[0].number}"


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_share_a_number(org, agent):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the PostgreSQL pass checks real concurrency")
    errors: list[Exception] = []

    def worker() -> None:
        try:
            for i in range(10):
                _ticket(org, agent, subject=f"c{i}")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    numbers = list(Ticket.objects.values_list("number", flat=True))
    assert len(numbers) == 40 == len(set(numbers))


def test_priority_follows_the_default_matrix(org, agent):
    for (impact, urgency), priority in DEFAULT_MATRIX.items():
        ticket = _ticket(org, agent, impact=impact, urgency=urgency)

        assert ticket.priority == priority


def test_priority_rule_overrides_one_cell_and_is_audited(org, agent, admin_user):
    services.set_priority_rule(actor=admin_user, impact="low", urgency="low", priority="P3")

    assert _ticket(org, agent, impact="low", urgency="low").priority == "P3"
    assert _ticket(org, agent, impact="high", urgency="high").priority == "P1"
    assert services.priority_matrix()[("low", "low")] == "P3"
    assert AuditEntry.objects.get(object_type="desk.priorityrule").changes == {
        "priority": ["P4", "P3"]
    }


def test_unknown_priority_in_a_rule_is_refused(admin_user):
    with pytest.raises(ValidationError):
        services.set_priority_rule(actor=admin_user, impact="low", urgency="low", priority="P9")

    assert not PriorityRule.objects.exists()


def test_setting_the_matrix_is_all_or_nothing(admin_user):
    matrix = {("high", "low"): "P2", ("low", "low"): "P9"}

    with pytest.raises(ValidationError) as raised:
        services.priority.set_priority_matrix(actor=admin_user, matrix=matrix)

    assert list(raised.value.message_dict) == ["low_low"]
    assert not PriorityRule.objects.exists()


def test_setting_the_matrix_answers_and_audits_only_the_changed_cells(admin_user):
    matrix = {("high", "high"): "P1", ("high", "low"): "P2"}

    changed = services.priority.set_priority_matrix(actor=admin_user, matrix=matrix)

    assert changed == [("high", "low")]
    assert AuditEntry.objects.filter(object_type="desk.priorityrule").count() == 1


def test_changing_impact_recomputes_priority_with_an_event(org, agent):
    ticket = _ticket(org, agent)

    services.update_ticket(ticket, actor=agent, impact="high", urgency="high")

    assert ticket.priority == "P1"
    changed = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.FIELD_CHANGED)
    assert {e.detail["field"]: (e.detail["before"], e.detail["after"]) for e in changed} == {
        "impact": ("medium", "high"),
        "urgency": ("medium", "high"),
        "priority": ("P3", "P1"),
    }


def test_create_records_event_and_audit(org, agent):
    contact = ContactFactory.create(organization=org)

    ticket = _ticket(org, agent, requester=contact, tags=["VPN", "vpn", " "])

    assert ticket.tags == ["vpn"]
    event = TicketEvent.objects.get(ticket=ticket)
    assert event.kind == EventKind.CREATED
    assert event.detail["requester"] == contact.pk
    assert event.actor == agent
    entry = AuditEntry.objects.get(object_type="desk.ticket", action="create")
    assert entry.changes["subject"] == [None, "Printer on fire"]


def test_create_audit_names_the_watchers_given(org, agent):
    ticket = _ticket(org, agent, watchers=[agent])

    entry = AuditEntry.objects.get(object_type="desk.ticket", object_id=str(ticket.pk))
    assert entry.changes["watchers"] == [None, [str(agent)]]


def test_create_audit_without_watchers_has_no_watchers_change(org, agent):
    ticket = _ticket(org, agent)

    entry = AuditEntry.objects.get(object_type="desk.ticket", object_id=str(ticket.pk))
    assert "watchers" not in entry.changes


def test_requester_of_another_organisation_is_refused(org, other_org, agent):
    foreign = ContactFactory.create(organization=other_org)

    with pytest.raises(ValidationError) as info:
        _ticket(org, agent, requester=foreign)

    assert "requester" in info.value.message_dict
    assert not Ticket.objects.exists()


def test_assignee_must_be_an_agent_who_sees_the_organisation(org, other_org, agent):
    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(other_org)
    viewer = UserFactory.create(role=Role.VIEWER)
    ticket = _ticket(org, agent)

    for assignee in (limited, viewer):
        with pytest.raises(ValidationError):
            services.update_ticket(ticket, actor=agent, assignee=assignee)


def test_assignment_is_an_assigned_event_and_an_audit_change(org, agent):
    team = TeamFactory.create(name="Service desk")
    ticket = _ticket(org, agent)

    services.update_ticket(ticket, actor=agent, team=team, assignee=agent)

    assigned = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ASSIGNED)
    assert {e.detail["field"]: e.detail["after"] for e in assigned} == {
        "team": team.pk,
        "assignee": agent.pk,
    }
    entry = AuditEntry.objects.get(object_type="desk.ticket", action="update")
    assert entry.changes == {"team": [None, "Service desk"], "assignee": [None, agent.email]}


def test_update_without_a_change_records_nothing(org, agent):
    ticket = _ticket(org, agent)

    services.update_ticket(ticket, actor=agent, subject="Printer on fire")

    assert _kinds(ticket) == [EventKind.CREATED]


def test_status_cannot_be_changed_through_update(org, agent):
    ticket = _ticket(org, agent)

    with pytest.raises(ValidationError):
        services.update_ticket(ticket, actor=agent, status="closed")


@pytest.mark.parametrize(
    ("path", "final"),
    [
        (["open", "in_progress", "waiting_on_customer", "open", "resolved", "closed"], "closed"),
        (["in_progress", "waiting_on_third_party", "resolved"], "resolved"),
        (["closed"], "closed"),
    ],
)
def test_valid_transitions_are_followed(org, agent, path, final):
    ticket = _ticket(org, agent)

    for status in path:
        services.transition(ticket, status, actor=agent)

    assert Ticket.objects.get(pk=ticket.pk).status == final


@pytest.mark.parametrize(
    ("start", "target"),
    [("closed", "resolved"), ("closed", "in_progress"), ("resolved", "waiting_on_customer")],
)
def test_invalid_transitions_are_refused(org, agent, start, target):
    ticket = _ticket(org, agent)
    services.transition(ticket, start, actor=agent)

    with pytest.raises(ValidationError) as info:
        services.transition(ticket, target, actor=agent)

    assert "status" in info.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).status == start


def test_transition_to_the_same_status_is_refused(org, agent):
    ticket = _ticket(org, agent)

    with pytest.raises(ValidationError):
        services.transition(ticket, "new", actor=agent)


def test_resolving_and_closing_stamp_their_times(org, agent):
    ticket = _ticket(org, agent)

    services.transition(ticket, "resolved", actor=agent)
    resolved_at = ticket.resolved_at
    services.transition(ticket, "closed", actor=agent)

    assert resolved_at is not None
    assert ticket.resolved_at == resolved_at
    assert ticket.closed_at is not None


def test_reopen_counts_clears_end_times_and_is_a_reopened_event(org, agent):
    ticket = _ticket(org, agent)
    services.transition(ticket, "resolved", actor=agent)
    services.transition(ticket, "closed", actor=agent)

    services.transition(ticket, "open", actor=agent)

    ticket.refresh_from_db()
    assert ticket.reopened_count == 1
    assert ticket.resolved_at is None
    assert ticket.closed_at is None
    event = TicketEvent.objects.filter(ticket=ticket).last()
    assert event is not None
    assert event.kind == EventKind.REOPENED
    assert event.detail == {"from": "closed", "to": "open", "pauses": False, "reopened_count": 1}


def test_waiting_statuses_pause_and_the_event_says_so(org, agent):
    ticket = _ticket(org, agent)

    services.transition(ticket, Status.WAITING_ON_CUSTOMER, actor=agent)

    assert ticket.is_paused
    event = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.STATUS_CHANGED).get()
    assert event.detail["pauses"] is True


def test_pausing_statuses_are_configuration(org, agent, settings):
    settings.DESK_PAUSING_STATUSES = ["waiting_on_customer"]
    ticket = _ticket(org, agent)

    services.transition(ticket, Status.WAITING_ON_THIRD_PARTY, actor=agent)

    assert not ticket.is_paused


def test_first_public_agent_reply_sets_first_response_once(org, agent, admin_user):
    ticket = _ticket(org, agent)
    first = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    services.add_reply(ticket, actor=agent, body="Looking", at=first)
    services.add_reply(ticket, actor=admin_user, body="Still looking", at=first.replace(hour=10))

    assert Ticket.objects.get(pk=ticket.pk).first_response_at == first
    replied = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.REPLIED)
    assert [e.detail.get("first_response", False) for e in replied] == [True, False]


def test_internal_note_and_customer_reply_are_not_a_first_response(org, agent, end_user):
    contact = ContactFactory.create(organization=org)
    end_user.contact = contact
    end_user.save()
    ticket = _ticket(org, agent, requester=contact)

    services.add_reply(ticket, actor=agent, body="check the fuser", internal=True)
    reply = services.add_reply(ticket, actor=end_user, body="any news?")

    assert Ticket.objects.get(pk=ticket.pk).first_response_at is None
    assert reply.author_contact == contact
    note_event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.NOTE_ADDED)
    assert note_event.is_internal


def test_customer_cannot_write_an_internal_note(org, agent, end_user):
    ticket = _ticket(org, agent)

    with pytest.raises(ValidationError):
        services.add_reply(ticket, actor=end_user, body="secret", internal=True)


def test_empty_reply_is_refused(org, agent):
    ticket = _ticket(org, agent)

    with pytest.raises(ValidationError):
        services.add_reply(ticket, actor=agent, body="   ")


def test_time_entry_is_logged_as_an_internal_event(org, agent):
    ticket = _ticket(org, agent)

    entry = services.log_time(ticket, actor=agent, minutes=45, activity="onsite", billable=False)

    assert TimeEntry.objects.get() == entry
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.TIME_LOGGED)
    assert event.is_internal
    assert event.detail == {
        "entry": entry.pk,
        "minutes": 45,
        "activity": "onsite",
        "billable": False,
    }
    assert AuditEntry.objects.filter(object_type="desk.timeentry").exists()


@pytest.mark.parametrize("minutes", [0, -5, 1441])
def test_time_entry_minutes_out_of_range_are_refused(org, agent, minutes):
    ticket = _ticket(org, agent)

    with pytest.raises(ValidationError):
        services.log_time(ticket, actor=agent, minutes=minutes)


def test_linking_an_asset_twice_records_one_event(org, agent):
    asset = AssetFactory.create(organization=org)
    ticket = _ticket(org, agent)

    assert services.link_asset(ticket, asset, actor=agent)
    assert not services.link_asset(ticket, asset, actor=agent)
    assert services.unlink_asset(ticket, asset, actor=agent)

    assert _kinds(ticket) == [
        EventKind.CREATED,
        EventKind.ASSET_LINKED,
        EventKind.ASSET_UNLINKED,
    ]


def test_asset_of_another_organisation_cannot_be_linked(org, other_org, agent):
    ticket = _ticket(org, agent)

    with pytest.raises(ValidationError):
        services.link_asset(ticket, AssetFactory.create(organization=other_org), actor=agent)


def test_parent_cycle_is_refused(org, agent):
    parent = _ticket(org, agent)
    child = _ticket(org, agent)
    services.set_parent(child, parent, actor=agent)

    with pytest.raises(ValidationError):
        services.set_parent(parent, child, actor=agent)

    assert list(parent.children.all()) == [child]
    assert _kinds(child)[-1] == EventKind.PARENT_SET


def test_relate_is_both_ways_with_an_event_on_each(org, agent):
    one = _ticket(org, agent)
    two = _ticket(org, agent)

    services.relate(one, two, actor=agent)

    assert list(two.related.all()) == [one]
    assert EventKind.RELATED in _kinds(one)
    assert EventKind.RELATED in _kinds(two)


def test_problem_links_the_incidents_it_explains(org, agent):
    problem = _ticket(org, agent, type="problem")
    incident = _ticket(org, agent)

    services.link_incident(problem, incident, actor=agent)
    services.update_ticket(
        problem, actor=agent, root_cause="bad firmware", workaround="reboot", known_error=True
    )

    assert list(incident.problems.all()) == [problem]
    assert EventKind.INCIDENT_LINKED in _kinds(incident)
    assert Ticket.objects.get(pk=problem.pk).known_error


def test_only_a_problem_explains_incidents(org, agent):
    incident = _ticket(org, agent)
    other = _ticket(org, agent)

    with pytest.raises(ValidationError):
        services.link_incident(incident, other, actor=agent)


def test_merge_moves_replies_closes_the_duplicate_and_records_both(org, agent):
    target = _ticket(org, agent, subject="VPN down")
    duplicate = _ticket(org, agent, subject="VPN is down again")
    reply = services.add_reply(duplicate, actor=agent, body="on it")
    services.log_time(duplicate, actor=agent, minutes=10)

    services.merge_tickets(duplicate, into=target, actor=agent)

    duplicate.refresh_from_db()
    assert duplicate.status == Status.CLOSED
    assert duplicate.merged_into == target
    assert Reply.objects.get(pk=reply.pk).ticket == target
    assert TimeEntry.objects.get().ticket == target
    assert EventKind.MERGED_INTO in _kinds(duplicate)
    assert EventKind.MERGED_FROM in _kinds(target)
    assert AuditEntry.objects.filter(changes__has_key="merged_into").exists()


def test_merged_ticket_cannot_be_reopened_merged_again_or_replied_to(org, agent):
    target = _ticket(org, agent)
    duplicate = _ticket(org, agent)
    services.merge_tickets(duplicate, into=target, actor=agent)

    with pytest.raises(ValidationError):
        services.transition(duplicate, "open", actor=agent)
    with pytest.raises(ValidationError):
        services.merge_tickets(duplicate, into=target, actor=agent)
    with pytest.raises(ValidationError):
        services.add_reply(duplicate, actor=agent, body="hello")


def test_merge_across_organisations_or_into_itself_is_refused(org, other_org, agent):
    ticket = _ticket(org, agent)
    foreign = _ticket(other_org, agent)

    with pytest.raises(ValidationError):
        services.merge_tickets(ticket, into=foreign, actor=agent)
    with pytest.raises(ValidationError):
        services.merge_tickets(ticket, into=ticket, actor=agent)
