import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from buttress.accounts.models import Role
from buttress.desk import services
from buttress.desk.access import (
    DeskCapability,
    events_for,
    get_ticket_for,
    replies_for,
    tickets_for,
)
from buttress.testing.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(org, end_user):
    contact = ContactFactory.create(organization=org)
    end_user.contact = contact
    end_user.save()
    return contact


def test_end_user_sees_tickets_they_requested_opened_or_watch_only(org, agent, end_user, contact):
    requested = services.create_ticket(org, actor=agent, subject="mine", requester=contact)
    opened = services.create_ticket(org, actor=end_user, subject="opened")
    watched = services.create_ticket(org, actor=agent, subject="watched", watchers=[end_user])
    services.create_ticket(org, actor=agent, subject="a colleague's")

    assert set(tickets_for(end_user)) == {requested, opened, watched}


def test_org_admin_sees_every_ticket_of_their_organisation_only(org, other_org, agent, org_admin):
    ours = services.create_ticket(org, actor=agent, subject="ours")
    services.create_ticket(other_org, actor=agent, subject="theirs")

    assert list(tickets_for(org_admin)) == [ours]


def test_limited_agent_sees_only_their_organisations(org, other_org, agent):
    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(org)
    ours = services.create_ticket(org, actor=agent, subject="ours")
    theirs = services.create_ticket(other_org, actor=agent, subject="theirs")

    assert list(tickets_for(limited)) == [ours]
    with pytest.raises(Http404):
        get_ticket_for(limited, theirs.pk)


def test_ticket_of_another_organisation_is_not_found_for_a_customer(
    org, other_org, agent, org_admin
):
    theirs = services.create_ticket(other_org, actor=agent, subject="theirs")

    with pytest.raises(Http404):
        get_ticket_for(org_admin, theirs.pk)


def test_customer_may_see_but_not_work_a_ticket(org, agent, org_admin):
    ticket = services.create_ticket(org, actor=agent, subject="ours")

    assert get_ticket_for(org_admin, ticket.pk) == ticket
    with pytest.raises(PermissionDenied):
        get_ticket_for(org_admin, ticket.pk, capability=DeskCapability.WORK)


def test_end_user_never_sees_internal_notes_or_internal_events(org, agent, end_user, contact):
    ticket = services.create_ticket(org, actor=agent, subject="mine", requester=contact)
    public = services.add_reply(ticket, actor=agent, body="we are on it")
    services.add_reply(ticket, actor=agent, body="customer is difficult", internal=True)
    services.log_time(ticket, actor=agent, minutes=5)

    assert list(replies_for(end_user, ticket)) == [public]
    assert all(not e.is_internal for e in events_for(end_user, ticket))
    assert replies_for(agent, ticket).count() == 2
    assert events_for(agent, ticket).filter(is_internal=True).count() == 2


def test_garbage_id_is_not_found(agent):
    with pytest.raises(Http404):
        get_ticket_for(agent, "x")
