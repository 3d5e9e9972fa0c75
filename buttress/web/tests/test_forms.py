from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buttress.accounts.models import Team
from buttress.web.forms import Form, ModelChoiceField


class TeamForm(Form):
    team = ModelChoiceField(queryset=Team.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["team"]
        assert isinstance(field, ModelChoiceField)
        field.queryset = Team.objects.order_by("name")


@pytest.mark.django_db
def test_model_choices_are_read_by_one_plain_query_once_per_form() -> None:
    Team.objects.create(name="Beta")
    Team.objects.create(name="Alpha")
    form = TeamForm()
    with CaptureQueriesContext(connection) as queries:
        first = str(form["team"])
        second = str(form["team"])
    assert first == second
    assert first.index("Alpha") < first.index("Beta")
    assert len(queries.captured_queries) == 1
    assert "CURSOR" not in queries.captured_queries[0]["sql"].upper()


@pytest.mark.django_db
def test_a_model_choice_is_still_validated_against_the_database() -> None:
    team = Team.objects.create(name="Alpha")
    assert TeamForm({"team": str(team.pk)}).is_valid()
    assert not TeamForm({"team": str(team.pk + 1000)}).is_valid()
