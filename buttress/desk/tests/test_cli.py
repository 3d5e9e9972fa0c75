import pytest
from click.testing import CliRunner
from django.db import DatabaseError

from buttress.cli import cli
from buttress.desk import services
from buttress.desk.access import tickets_for
from buttress.desk.models import TicketSearchDocument
from buttress.desk.search import search_tickets
from buttress.testing.factories import TicketFactory

pytestmark = pytest.mark.django_db


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_tickets_reindex_makes_tickets_written_around_the_services_searchable(org, agent):
    services.create_ticket(org, actor=agent, subject="Printer jammed")
    imported = TicketFactory.create(organization=org, subject="Imported quasar ticket")
    TicketSearchDocument.objects.filter(ticket_id=imported.pk).delete()

    result = invoke("tickets", "reindex")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Indexed 2 tickets."
    found = search_tickets(tickets_for(agent), "quasar", include_internal=True)
    assert list(found) == [imported]


def test_tickets_reindex_with_no_tickets_says_so():
    result = invoke("tickets", "reindex")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Indexed 0 tickets."


def test_tickets_reindex_reports_a_database_failure_in_one_line(monkeypatch):
    def broken() -> int:
        raise DatabaseError("no such table: desk_ticket_fts\nmore detail")

    monkeypatch.setattr("buttress.desk.search.rebuild_index", broken)

    result = invoke("tickets", "reindex")

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == ["Error: database: no such table: desk_ticket_fts"]
    assert "Traceback" not in result.output
