"""Teams of provider staff."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import STAFF_ROLES, Team, User
from buttress.audit import services as audit

TEAM_FIELDS = ("name", "description", "members")


def _check_name(name: str, *, exclude: int | None = None) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValidationError({"name": "Give the team a name."})
    clash = Team.objects.filter(name__iexact=cleaned)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": "A team with this name already exists."})
    return cleaned


def _set_members(team: Team, members: Iterable[User]) -> None:
    people = list(members)
    for person in people:
        if person.role not in STAFF_ROLES:
            raise ValidationError({"members": f"{person.email} is not provider staff."})
    team.members.set(people)


@transaction.atomic
def create_team(
    *, actor: User | None, name: str, description: str = "", members: Iterable[User] = ()
) -> Team:
    team = Team(name=_check_name(name), description=description.strip())
    team.full_clean()
    team.save()
    _set_members(team, members)
    audit.record_create(team, actor=actor, organization=None, fields=TEAM_FIELDS)
    return team


@transaction.atomic
def update_team(team: Team, *, actor: User | None, **changes: Any) -> Team:
    before = audit.snapshot(team, TEAM_FIELDS)
    members = changes.pop("members", None)
    for field, value in changes.items():
        if field not in TEAM_FIELDS:
            raise ValidationError({field: "This field cannot be changed."})
        if field == "name":
            value = _check_name(value, exclude=team.pk)
        setattr(team, field, value)
    team.full_clean()
    team.save()
    if members is not None:
        _set_members(team, members)
    audit.record_update(team, actor=actor, organization=None, before=before, fields=TEAM_FIELDS)
    return team


@transaction.atomic
def delete_team(team: Team, *, actor: User | None) -> None:
    audit.record_delete(team, actor=actor, organization=None, fields=TEAM_FIELDS, object_id=team.pk)
    team.delete()
