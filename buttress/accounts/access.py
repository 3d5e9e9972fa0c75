"""Who may see and change which accounts, teams, tokens and sessions.

The same rules as tenancy.access: an account outside what the actor may manage is not found
(404); an action the actor's role lacks altogether is forbidden (403).

- An unrestricted provider admin manages every account.
- A provider admin limited to some organisations manages the customer users of those.
- An organisation admin manages the customer users of their own organisation.
- Everyone else manages no accounts. Teams are seen by provider staff and changed by admins.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from buttress.accounts.models import (
    CUSTOMER_ROLES,
    STAFF_ROLES,
    ApiToken,
    Role,
    Team,
    User,
    UserSession,
)
from buttress.lib.timeutil import now
from buttress.tenancy.access import (
    Capability,
    can,
    has_unrestricted_scope,
    organizations_for,
    require,
)
from buttress.tenancy.models import Organization


def can_manage_users(actor: User) -> bool:
    return can(actor, Capability.MANAGE_USERS)


def users_for(actor: User) -> QuerySet[User]:
    """The accounts ``actor`` may see and change."""
    if not can_manage_users(actor):
        return User.objects.none()
    if actor.role == Role.ADMIN:
        if has_unrestricted_scope(actor):
            return User.objects.all()
        return User.objects.filter(
            role__in=CUSTOMER_ROLES, organization__in=organizations_for(actor)
        )
    if actor.organization_id is None:
        return User.objects.none()
    return User.objects.filter(organization_id=actor.organization_id, role__in=CUSTOMER_ROLES)


def visible_users(actor: User) -> QuerySet[User]:
    """The accounts whose existence ``actor`` may learn: their organisations' users, and
    provider staff for staff. Anything else answers 404."""
    if not actor.is_authenticated or not actor.is_active:
        return User.objects.none()
    customers = User.objects.filter(
        role__in=CUSTOMER_ROLES, organization__in=organizations_for(actor)
    )
    if actor.role in STAFF_ROLES:
        return customers | User.objects.filter(role__in=STAFF_ROLES)
    return customers


def get_user_for(actor: User, pk: int | str) -> User:
    """An account ``actor`` manages; 404 when they may not know of it, 403 when they may
    know of it but not change it."""
    try:
        user = visible_users(actor).select_related("organization").get(pk=pk)
    except (User.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("User not found.") from exc
    require(actor, Capability.MANAGE_USERS)
    if not users_for(actor).filter(pk=user.pk).exists():
        raise PermissionDenied("You may not manage this user.")
    return user


def assignable_roles(actor: User) -> list[Role]:
    if actor.role == Role.ADMIN and has_unrestricted_scope(actor):
        return list(Role)
    if can_manage_users(actor):
        return [role for role in Role if role in CUSTOMER_ROLES]
    return []


def assignable_organizations(actor: User) -> QuerySet[Organization]:
    if not can_manage_users(actor):
        return Organization.objects.none()
    if actor.role in STAFF_ROLES:
        return organizations_for(actor)
    if actor.organization_id is None:
        return Organization.objects.none()
    return Organization.objects.filter(pk=actor.organization_id)


def check_assignment(
    actor: User,
    *,
    role: str,
    organization: Organization | None,
    limited_to: list[Organization] | None = None,
) -> None:
    """Forbid giving an account a role, organisation or scope beyond what ``actor`` manages."""
    require(actor, Capability.MANAGE_USERS)
    if role not in assignable_roles(actor):
        raise PermissionDenied(f"You may not give an account the role {role!r}.")
    allowed = assignable_organizations(actor)
    if organization is not None and not allowed.filter(pk=organization.pk).exists():
        raise PermissionDenied("You may not add accounts to that organisation.")
    if limited_to and not has_unrestricted_scope(actor):
        raise PermissionDenied("You may not limit provider staff.")


# --- teams -----------------------------------------------------------------------------------


def can_view_teams(actor: User) -> bool:
    return actor.is_authenticated and actor.is_active and actor.role in STAFF_ROLES


def can_manage_teams(actor: User) -> bool:
    return actor.is_authenticated and actor.is_active and actor.role == Role.ADMIN


def teams_for(actor: User) -> QuerySet[Team]:
    if not can_view_teams(actor):
        return Team.objects.none()
    return Team.objects.all()


def get_team_for(actor: User, pk: int | str, *, manage: bool = False) -> Team:
    if not can_view_teams(actor):
        raise PermissionDenied("Teams are for provider staff.")
    try:
        team = teams_for(actor).get(pk=pk)
    except (Team.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Team not found.") from exc
    if manage and not can_manage_teams(actor):
        raise PermissionDenied("Only provider admins change teams.")
    return team


def team_member_candidates(actor: User) -> QuerySet[User]:
    if not can_view_teams(actor):
        return User.objects.none()
    return User.objects.filter(role__in=STAFF_ROLES, is_active=True)


# --- the actor's own tokens and sessions -----------------------------------------------------


def tokens_for(actor: User) -> QuerySet[ApiToken]:
    if not actor.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=actor)


def get_token_for(actor: User, pk: int | str) -> ApiToken:
    try:
        return tokens_for(actor).select_related("user").get(pk=pk)
    except (ApiToken.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Token not found.") from exc


def sessions_for(actor: User) -> QuerySet[UserSession]:
    """The actor's sessions that can still be in use (not past the session lifetime)."""
    if not actor.is_authenticated:
        return UserSession.objects.none()
    oldest = now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return UserSession.objects.filter(user=actor, last_seen_at__gt=oldest)


def get_session_for(actor: User, pk: int | str) -> UserSession:
    try:
        return sessions_for(actor).select_related("user", "user__organization").get(pk=pk)
    except (UserSession.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Session not found.") from exc
