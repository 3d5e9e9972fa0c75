from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buttress.desk import services
from buttress.desk.access import tickets_for
from buttress.desk.models import Ticket, TicketSearchDocument
from buttress.desk.search import (
    MAX_PART,
    SEARCH_ORDER,
    fts5_query,
    index_ticket,
    rebuild_index,
    search_tickets,
    snippets,
)
from buttress.lib.pagination import paginate
from buttress.testing.factories import ContactFactory, TicketFactory

pytestmark = pytest.mark.django_db


def _ticket(org, agent, subject="Printer jammed", **fields):
    return services.create_ticket(org, actor=agent, subject=subject, **fields)


def _found(user, text, *, include_internal=None):
    internal = (
        user.role in ("admin", "agent", "viewer") if include_internal is None else include_internal
    )
    return list(search_tickets(tickets_for(user), text, include_internal=internal))


def test_subject_matches(org, agent):
    ticket = _ticket(org, agent, subject="Mailbox quota exceeded")

    assert _found(agent, "mailbox") == [ticket]


def test_description_matches(org, agent):
    ticket = _ticket(org, agent, description="The VPN concentrator reboots nightly")

    assert _found(agent, "concentrator") == [ticket]


def test_public_reply_matches(org, agent):
    ticket = _ticket(org, agent)
    services.add_reply(ticket, actor=agent, body="Replaced the fuser assembly")

    assert _found(agent, "fuser") == [ticket]


def test_internal_note_matches_for_staff(org, agent):
    ticket = _ticket(org, agent)
    services.add_reply(ticket, actor=agent, body="Vendor case opened: zebracorn", internal=True)

    assert _found(agent, "zebracorn") == [ticket]


def test_customer_never_matches_internal_note(org, agent, org_admin):
    ticket = _ticket(org, agent)
    services.add_reply(ticket, actor=agent, body="Customer is difficult: zebracorn", internal=True)

    assert ticket in tickets_for(org_admin)
    assert _found(org_admin, "zebracorn") == []
    assert _found(org_admin, "zebracorn difficult") == []


def test_customer_snippet_never_shows_note_text(org, agent, org_admin):
    ticket = _ticket(org, agent, subject="Printer jammed again")
    services.add_reply(ticket, actor=agent, body="printer secret zebracorn", internal=True)

    shown = snippets([ticket.pk], "printer", include_internal=False)

    assert "zebracorn" not in shown[ticket.pk]
    assert "<mark>" in shown[ticket.pk]


def test_other_organisation_never_appears(org, other_org, agent, org_admin):
    _ticket(other_org, agent, subject="Mailbox quota exceeded")
    mine = _ticket(org, agent, subject="Mailbox quota exceeded")

    assert _found(org_admin, "mailbox") == [mine]


def test_end_user_finds_only_their_own_tickets(org, agent, end_user):
    contact = ContactFactory.create(organization=org)
    _ticket(org, agent, subject="Mailbox full", requester=contact)
    own = _ticket(org, end_user, subject="Mailbox full")

    assert _found(end_user, "mailbox") == [own]


def test_subject_match_ranks_first(org, agent):
    in_reply = _ticket(org, agent, subject="Slow laptop")
    services.add_reply(in_reply, actor=agent, body="Checked the firewall rules")
    in_description = _ticket(org, agent, subject="Network", description="firewall drops packets")
    in_subject = _ticket(org, agent, subject="Firewall down")

    assert _found(agent, "firewall") == [in_subject, in_description, in_reply]


def test_changed_subject_no_longer_matches_old_word(org, agent):
    ticket = _ticket(org, agent, subject="Keyboard broken")

    services.update_ticket(ticket, actor=agent, subject="Monitor flickers")

    assert _found(agent, "keyboard") == []
    assert _found(agent, "monitor") == [ticket]


def test_merged_replies_are_found_through_the_surviving_ticket(org, agent):
    duplicate = _ticket(org, agent, subject="Printer A")
    survivor = _ticket(org, agent, subject="Printer B")
    services.add_reply(duplicate, actor=agent, body="toner smudges everywhere")

    services.merge_tickets(duplicate, into=survivor, actor=agent)

    assert _found(agent, "smudges") == [survivor]


def test_last_word_matches_as_prefix(org, agent):
    ticket = _ticket(org, agent, subject="Certificate renewal")

    assert _found(agent, "certificate renew") == [ticket]


def test_rebuild_index_indexes_tickets_created_around_the_services(org, agent):
    imported = TicketFactory.create(organization=org, subject="Imported legacy ticket")
    assert _found(agent, "legacy") == []

    count = rebuild_index()

    assert count == Ticket.objects.count()
    assert _found(agent, "legacy") == [imported]


def test_index_ticket_writes_one_document_per_ticket(org, agent):
    ticket = _ticket(org, agent)

    index_ticket(ticket)
    index_ticket(ticket)

    assert TicketSearchDocument.objects.filter(ticket=ticket).count() == 1


def test_fts5_query_quotes_every_word():
    assert fts5_query('a" OR b* NEAR(c', include_internal=True) == '"a" "OR" "b" "NEAR" "c"*'
    assert fts5_query("!!! 🙂", include_internal=True) is None


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(max_size=300) | st.sampled_from(['"', "*", "NEAR(", "a OR", "x" * 10_000]))
def test_any_text_searches_without_error(org, agent, text):
    if not Ticket.objects.exists():
        ticket = _ticket(org, agent, subject="Printer jammed")
        services.add_reply(ticket, actor=agent, body="a note", internal=True)

    for internal in (True, False):
        found = list(search_tickets(Ticket.objects.all(), text, include_internal=internal))
        snippets([t.pk for t in found], text, include_internal=internal)


def test_text_without_words_finds_nothing_and_still_orders(org, agent):
    _ticket(org, agent)

    found = search_tickets(Ticket.objects.all(), " !!! ", include_internal=True)

    assert paginate(found, order=SEARCH_ORDER).items == []


def _document(ticket):
    return TicketSearchDocument.objects.values(
        "subject", "description", "public_text", "internal_text", "public_vector", "staff_vector"
    ).get(pk=ticket.pk)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    replies=st.lists(
        st.tuples(
            st.booleans(),
            st.text(alphabet="ab \ue000\ue001", min_size=1, max_size=40),
            st.integers(min_value=-3, max_value=3),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_each_reply_leaves_the_document_as_a_full_rewrite_would(org, agent, replies):
    # Replies and notes in any mix, some dated before earlier ones: the document kept up
    # reply by reply is the one index_ticket writes from scratch.
    ticket = _ticket(org, agent, description="Toner")
    start = ticket.created_at
    for internal, body, minutes in replies:
        if body.strip():
            at = start + timedelta(minutes=10 + minutes)
            services.add_reply(ticket, actor=agent, body=body, internal=internal, at=at)
    kept = _document(ticket)

    index_ticket(ticket)

    assert _document(ticket) == kept


def test_a_long_conversation_is_cut_as_a_full_rewrite_would(org, agent):
    ticket = _ticket(org, agent)
    for _ in range(3):
        services.add_reply(ticket, actor=agent, body="word " * 15_000)
    kept = _document(ticket)

    index_ticket(ticket)

    assert len(kept["public_text"]) == MAX_PART
    assert _document(ticket) == kept


def test_only_the_newest_matches_are_ranked_when_more_match(org, agent, monkeypatch):
    from buttress.desk import search

    oldest = _ticket(org, agent, subject="Printer printer printer jammed")
    middle = _ticket(org, agent, subject="Slow", description="The printer is slow")
    newest = _ticket(org, agent, subject="Again", description="A printer again")
    monkeypatch.setattr(search, "SEARCH_CANDIDATES", 2)

    found = _found(agent, "printer")

    # The oldest ticket would rank first (its subject matches) but is past the newest two.
    assert set(found) == {middle, newest}
    assert search.search(tickets_for(agent), "printer", include_internal=True).capped
    assert search.matching(tickets_for(agent), "printer", include_internal=True).count() == 3
    assert oldest not in found


def test_all_matches_are_ranked_up_to_the_limit(org, agent, monkeypatch):
    from buttress.desk import search

    first = _ticket(org, agent, subject="Printer jammed")
    second = _ticket(org, agent, subject="Slow", description="The printer is slow")
    _ticket(org, agent, subject="Unrelated")
    monkeypatch.setattr(search, "SEARCH_CANDIDATES", 2)

    assert _found(agent, "printer") == [first, second]
    assert not search.search(tickets_for(agent), "printer", include_internal=True).capped


def test_the_newest_matches_are_those_the_user_may_see(
    org, other_org, agent, org_admin, monkeypatch
):
    from buttress.desk import search

    mine = [_ticket(org, agent, subject=f"Printer {n}") for n in range(2)]
    for n in range(3):
        _ticket(other_org, agent, subject=f"Printer elsewhere {n}")
    monkeypatch.setattr(search, "SEARCH_CANDIDATES", 2)

    # Newer matches of another organisation never take the places of the user's own.
    assert set(_found(org_admin, "printer")) == set(mine)


def _window(monkeypatch, *, candidates, window=1):
    from buttress.desk import search

    monkeypatch.setattr(search, "SEARCH_CANDIDATES", candidates)
    monkeypatch.setattr(search, "SEARCH_WINDOW", window)


def test_the_walk_over_windows_finds_exactly_the_newest_matches(org, agent, monkeypatch):
    from buttress.desk import search

    matches = []
    for n in range(12):
        if n % 3 == 2:
            matches.append(_ticket(org, agent, subject=f"Printer {n}"))
        else:
            _ticket(org, agent, subject=f"Unrelated {n}")
    # One id per first window: the walk takes several windows, sized from what it found.
    _window(monkeypatch, candidates=3)

    result = search.search(tickets_for(agent), "printer", include_internal=True)

    assert set(result.tickets) == set(matches[-3:])
    assert result.capped


def test_the_walk_over_windows_skips_no_ticket(org, agent, monkeypatch):
    from buttress.desk import search

    tickets = [_ticket(org, agent, subject=f"Printer {n}") for n in range(9)]
    _window(monkeypatch, candidates=5)

    result = search.search(tickets_for(agent), "printer", include_internal=True)

    assert set(result.tickets) == set(tickets[-5:])
    assert result.capped


def test_a_rare_word_finds_every_match_however_old(org, agent, monkeypatch):
    from buttress.desk import search

    oldest = _ticket(org, agent, subject="Lasaro module fails")
    for n in range(8):
        _ticket(org, agent, subject=f"Unrelated {n}")
    newer = _ticket(org, agent, subject="Slow", description="The lasaro module again")
    _window(monkeypatch, candidates=5)

    result = search.search(tickets_for(agent), "lasaro", include_internal=True)

    assert set(result.tickets) == {oldest, newer}
    assert not result.capped


def test_the_newest_match_wins_a_tie(org, agent, monkeypatch):
    older = _ticket(org, agent, subject="Printer jammed")
    newer = _ticket(org, agent, subject="Printer jammed")
    _window(monkeypatch, candidates=5)

    assert _found(agent, "printer") == [newer, older]


def test_organizations_searched_are_those_the_user_may_see(org, other_org, agent, org_admin):
    from buttress.accounts.models import Role
    from buttress.desk import search
    from buttress.testing.factories import UserFactory

    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(org)

    assert search.organizations_searched(agent, None) is None
    assert search.organizations_searched(agent, other_org.pk) == [other_org.pk]
    assert search.organizations_searched(limited, None) == [org.pk]
    assert search.organizations_searched(org_admin, None) == [org.pk]


def test_narrowing_by_organisation_finds_what_the_queryset_allows(
    org, other_org, agent, monkeypatch
):
    from buttress.accounts.models import Role
    from buttress.desk import search
    from buttress.testing.factories import UserFactory

    limited = UserFactory.create(role=Role.AGENT)
    limited.limited_to.add(org)
    ours = [_ticket(org, agent, subject=f"Printer {n}") for n in range(3)]
    for n in range(5):
        _ticket(other_org, agent, subject=f"Printer elsewhere {n}")
    _window(monkeypatch, candidates=2)

    result = search.search(
        tickets_for(limited),
        "printer",
        include_internal=True,
        organizations=search.organizations_searched(limited, None),
    )

    assert set(result.tickets) == set(ours[-2:])
    assert result.capped


def test_customers_never_find_internal_notes_across_windows(org, agent, org_admin, monkeypatch):
    from buttress.desk import search

    ticket = _ticket(org, agent, subject="Laptop slow")
    services.add_reply(ticket, actor=agent, body="zorblax firmware suspected", internal=True)
    for n in range(4):
        _ticket(org, agent, subject=f"Unrelated {n}")
    _window(monkeypatch, candidates=2)

    found = search.search(
        tickets_for(org_admin),
        "zorblax",
        include_internal=False,
        organizations=search.organizations_searched(org_admin, None),
    )

    assert list(found.tickets) == []
    assert _found(agent, "zorblax") == [ticket]
