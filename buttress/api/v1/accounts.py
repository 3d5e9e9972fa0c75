"""/me, /users, /teams, /tokens and /sessions: accounts over the API.

The rules are the web pages' (buttress.accounts.access): a user outside what the caller
manages is 404, a role that may not manage users at all is 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.accounts import access, services
from buttress.accounts.models import (
    CUSTOMER_ROLES,
    STAFF_ROLES,
    ApiToken,
    Role,
    Team,
    User,
    UserSession,
)
from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    api_token,
    current_user,
    optional_organization,
    paginated,
    require_write,
    responses,
)
from buttress.tenancy.access import Capability, get_organization_for, organizations_for, require
from buttress.tenancy.models import Organization

router = Router(tags=["accounts"])


# --- schemas ---------------------------------------------------------------------------------


class UserOut(Schema):
    id: int
    email: str
    full_name: str
    role: str = Field(description="admin, agent, viewer, org_admin or end_user.")
    organization: int | None = Field(description="The organisation of a customer user.")
    limited_to: list[int] = Field(description="Staff only: organisations seen; empty = all.")
    is_active: bool
    has_2fa: bool
    time_zone: str
    date_joined: datetime


class UserIn(Schema):
    email: str = Field(max_length=254)
    full_name: str = Field("", max_length=200)
    role: Role
    organization: int | None = Field(
        None, description="Required for customer roles; an org admin's own is the default."
    )
    limited_to: list[int] = Field(default_factory=list)
    time_zone: str = "UTC"
    password: str | None = Field(
        None, description="Optional; without one the user sets it by password reset."
    )


class UserPatch(Schema):
    email: str | None = Field(None, max_length=254)
    full_name: str | None = Field(None, max_length=200)
    role: Role | None = None
    organization: int | None = None
    limited_to: list[int] | None = None
    is_active: bool | None = None
    time_zone: str | None = None


class UserFilters(Schema):
    organization: int | None = None
    role: Role | None = None
    q: str | None = Field(None, description="Email or name contains (case-insensitive).")
    is_active: bool | None = None


class TeamOut(Schema):
    id: int
    name: str
    description: str
    members: list[int]
    created_at: datetime


class TeamIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    members: list[int] = Field(default_factory=list, description="Ids of provider staff.")


class TeamPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = None
    members: list[int] | None = None


class TokenOut(Schema):
    id: int
    user: int = Field(validation_alias="user_id")
    name: str
    prefix: str = Field(description="The token's public start, to recognise it.")
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer value. Shown only in this response.")


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    scope: ApiToken.Scope = ApiToken.Scope.READ
    expires_at: datetime | None = None
    user: int | None = Field(None, description="Admins only: issue the token to this user.")


class SessionOut(Schema):
    id: int
    created_at: datetime
    last_seen_at: datetime
    ip_address: str | None
    user_agent: str
    current: bool = Field(description="The session this request came with.")


# --- helpers ---------------------------------------------------------------------------------


def _user_rows(users: list[User]) -> list[dict[str, Any]]:
    """Users with their limits and second factors, fetched in two queries for the whole page."""
    ids = [u.pk for u in users]
    limited: dict[int, list[int]] = {}
    through = User.limited_to.through.objects.filter(user_id__in=ids).order_by("organization_id")
    for user_id, org_id in through.values_list("user_id", "organization_id"):
        limited.setdefault(user_id, []).append(org_id)
    with_2fa = set(
        TOTPDevice.objects.filter(user_id__in=ids, confirmed=True).values_list("user_id", flat=True)
    )
    return [
        {
            "id": u.pk,
            "email": u.email,
            "full_name": u.full_name,
            "role": u.role,
            "organization": u.organization_id,
            "limited_to": limited.get(u.pk, []),
            "is_active": u.is_active,
            "has_2fa": u.pk in with_2fa,
            "time_zone": u.time_zone,
            "date_joined": u.date_joined,
        }
        for u in users
    ]


def _user_row(user: User) -> dict[str, Any]:
    return _user_rows([user])[0]


def _resolve_organizations(actor: User, ids: list[int]) -> list[Organization]:
    found = list(organizations_for(actor).filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise Http404("Organization not found.")
    return found


def _team_row(team: Team) -> dict[str, Any]:
    return {
        "id": team.pk,
        "name": team.name,
        "description": team.description,
        "members": sorted(member.pk for member in team.members.all()),
        "created_at": team.created_at,
    }


def _members(ids: list[int]) -> list[User]:
    found = list(User.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise ValidationError({"members": "Some member ids are not users."})
    return found


def _session_key(request: HttpRequest) -> str | None:
    if api_token(request) is not None:
        return None
    session = getattr(request, "session", None)
    return session.session_key if session is not None else None


# --- me --------------------------------------------------------------------------------------


@router.get("/me", response=responses(UserOut))
def me(request: HttpRequest) -> dict[str, Any]:
    return _user_row(current_user(request))


# --- users -----------------------------------------------------------------------------------


@router.get("/users", response=responses(CursorPage[UserOut]))
def list_users(
    request: HttpRequest, filters: Query[UserFilters], page: Query[PageParams]
) -> dict[str, object]:
    actor = current_user(request)
    org = optional_organization(request, filters.organization)
    require(actor, Capability.MANAGE_USERS)
    queryset = access.users_for(actor)
    if org is not None:
        queryset = queryset.filter(organization=org)
    if filters.role:
        queryset = queryset.filter(role=filters.role)
    if filters.is_active is not None:
        queryset = queryset.filter(is_active=filters.is_active)
    if filters.q:
        queryset = queryset.filter(
            Q(email__icontains=filters.q) | Q(full_name__icontains=filters.q)
        )
    return paginated(queryset, page, order=("email", "id"), serialize=_user_rows)


@router.post("/users", response=responses(UserOut, 201))
def create_user(request: HttpRequest, body: UserIn) -> Status[dict[str, Any]]:
    require_write(request)
    actor = current_user(request)
    organization: Organization | None = None
    if body.organization is not None:
        organization = get_organization_for(actor, body.organization)
    require(actor, Capability.MANAGE_USERS)
    if organization is None and actor.role == Role.ORG_ADMIN and body.role in CUSTOMER_ROLES:
        organization = actor.organization
    limited = _resolve_organizations(actor, body.limited_to)
    access.check_assignment(actor, role=body.role, organization=organization, limited_to=limited)
    user = services.create_user(
        actor=actor,
        email=body.email,
        role=body.role,
        password=body.password or None,
        full_name=body.full_name,
        organization=organization,
        limited_to=limited,
        time_zone=body.time_zone,
    )
    return Status(201, _user_row(user))


@router.get("/users/{user_id}", response=responses(UserOut))
def get_user(request: HttpRequest, user_id: int) -> dict[str, Any]:
    return _user_row(access.get_user_for(current_user(request), user_id))


@router.patch("/users/{user_id}", response=responses(UserOut))
def update_user(request: HttpRequest, user_id: int, body: UserPatch) -> dict[str, Any]:
    require_write(request)
    actor = current_user(request)
    user = access.get_user_for(actor, user_id)
    changes = body.model_dump(exclude_unset=True)
    for field in ("email", "full_name", "role", "is_active", "time_zone"):
        if field in changes and changes[field] is None:
            raise ValidationError({field: "This field cannot be null."})
    if "organization" in changes:
        org_id = changes["organization"]
        changes["organization"] = None if org_id is None else get_organization_for(actor, org_id)
    if changes.get("limited_to") is not None:
        changes["limited_to"] = _resolve_organizations(actor, changes["limited_to"])
    role = changes.get("role", user.role)
    organization = changes.get("organization", user.organization)
    if role in STAFF_ROLES and "organization" not in changes:
        organization = None
        if user.organization is not None:
            changes["organization"] = None
    access.check_assignment(
        actor, role=role, organization=organization, limited_to=changes.get("limited_to")
    )
    return _user_row(services.update_user(user, actor=actor, **changes))


@router.delete("/users/{user_id}", response=responses(None, 204))
def deactivate_user(request: HttpRequest, user_id: int) -> Status[None]:
    """Deactivate (accounts are kept for the audit trail): sessions end, tokens stop working."""
    require_write(request)
    actor = current_user(request)
    user = access.get_user_for(actor, user_id)
    if user.is_active:
        services.update_user(user, actor=actor, is_active=False)
    return Status(204, None)


# --- teams -----------------------------------------------------------------------------------


def _require_team_viewer(actor: User) -> None:
    if not access.can_view_teams(actor):
        raise PermissionDenied("Teams are for provider staff.")


def _require_team_manager(actor: User) -> None:
    if not access.can_manage_teams(actor):
        raise PermissionDenied("Only provider admins change teams.")


@router.get("/teams", response=responses(CursorPage[TeamOut]))
def list_teams(request: HttpRequest, page: Query[PageParams]) -> dict[str, object]:
    actor = current_user(request)
    _require_team_viewer(actor)
    queryset = access.teams_for(actor).prefetch_related("members")
    return paginated(
        queryset,
        page,
        order=("name", "id"),
        serialize=lambda teams: [_team_row(team) for team in teams],
    )


@router.post("/teams", response=responses(TeamOut, 201))
def create_team(request: HttpRequest, body: TeamIn) -> Status[dict[str, Any]]:
    require_write(request)
    actor = current_user(request)
    _require_team_manager(actor)
    team = services.create_team(
        actor=actor,
        name=body.name,
        description=body.description,
        members=_members(body.members),
    )
    return Status(201, _team_row(team))


@router.get("/teams/{team_id}", response=responses(TeamOut))
def get_team(request: HttpRequest, team_id: int) -> dict[str, Any]:
    return _team_row(access.get_team_for(current_user(request), team_id))


@router.patch("/teams/{team_id}", response=responses(TeamOut))
def update_team(request: HttpRequest, team_id: int, body: TeamPatch) -> dict[str, Any]:
    require_write(request)
    actor = current_user(request)
    team = access.get_team_for(actor, team_id, manage=True)
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "description"):
        if field in changes and changes[field] is None:
            raise ValidationError({field: "This field cannot be null."})
    if "members" in changes:
        changes["members"] = _members(changes["members"] or [])
    return _team_row(services.update_team(team, actor=actor, **changes))


@router.delete("/teams/{team_id}", response=responses(None, 204))
def delete_team(request: HttpRequest, team_id: int) -> Status[None]:
    require_write(request)
    actor = current_user(request)
    team = access.get_team_for(actor, team_id, manage=True)
    services.delete_team(team, actor=actor)
    return Status(204, None)


# --- tokens ----------------------------------------------------------------------------------


@router.get("/tokens", response=responses(CursorPage[TokenOut]))
def list_tokens(request: HttpRequest, page: Query[PageParams]) -> dict[str, object]:
    """The caller's own tokens, newest first, revoked and expired ones included."""
    queryset = access.tokens_for(current_user(request))
    return paginated(queryset, page, order=("-created_at", "-id"))


@router.post("/tokens", response=responses(TokenCreated, 201))
def create_token(request: HttpRequest, body: TokenIn) -> Status[dict[str, Any]]:
    require_write(request)
    actor = current_user(request)
    owner = actor
    if body.user is not None and body.user != actor.pk:
        if actor.role != Role.ADMIN:
            raise PermissionDenied("Only provider admins issue tokens to other users.")
        owner = access.get_user_for(actor, body.user)
    issued = services.create_token(
        owner, actor=actor, name=body.name, scope=body.scope, expires_at=body.expires_at
    )
    token = issued.token
    fields = ("id", "user_id", "name", "prefix", "scope", "created_at", "expires_at")
    row = {field: getattr(token, field) for field in fields}
    return Status(201, {**row, "last_used_at": None, "revoked_at": None, "token": issued.secret})


@router.get("/tokens/{token_id}", response=responses(TokenOut))
def get_token(request: HttpRequest, token_id: int) -> ApiToken:
    return access.get_token_for(current_user(request), token_id)


@router.delete("/tokens/{token_id}", response=responses(None, 204))
def revoke_token(request: HttpRequest, token_id: int) -> Status[None]:
    require_write(request)
    actor = current_user(request)
    services.revoke_token(access.get_token_for(actor, token_id), actor=actor)
    return Status(204, None)


# --- sessions --------------------------------------------------------------------------------


@router.get("/sessions", response=responses(CursorPage[SessionOut]))
def list_sessions(request: HttpRequest, page: Query[PageParams]) -> dict[str, object]:
    """The caller's signed-in browser sessions, most recently used first."""
    current = _session_key(request)

    def rows(sessions: list[UserSession]) -> list[dict[str, Any]]:
        return [
            {
                "id": s.pk,
                "created_at": s.created_at,
                "last_seen_at": s.last_seen_at,
                "ip_address": s.ip_address,
                "user_agent": s.user_agent,
                "current": s.session_key == current,
            }
            for s in sessions
        ]

    queryset = access.sessions_for(current_user(request))
    return paginated(queryset, page, order=("-last_seen_at", "-id"), serialize=rows)


@router.delete("/sessions/{session_id}", response=responses(None, 204))
def revoke_session(request: HttpRequest, session_id: int) -> Status[None]:
    require_write(request)
    actor = current_user(request)
    services.revoke_session(access.get_session_for(actor, session_id), actor=actor)
    return Status(204, None)
