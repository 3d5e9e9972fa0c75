"""Accounts: creating and changing users and their passwords."""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from buttress.accounts.models import CUSTOMER_ROLES, STAFF_ROLES, Role, User
from buttress.accounts.services.sessions import revoke_all_sessions
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.tenancy.models import Organization

USER_FIELDS = ("email", "full_name", "role", "organization", "limited_to", "is_active", "time_zone")


def _normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    try:
        validate_email(cleaned)
    except ValidationError as exc:
        raise ValidationError({"email": f"{email!r} is not a valid email address."}) from exc
    return cleaned


def _check_role(role: str, organization: Organization | None) -> None:
    if role not in Role.values:
        raise ValidationError(
            {"role": f"Unknown role {role!r}; use one of {', '.join(Role.values)}."}
        )
    if role in CUSTOMER_ROLES and organization is None:
        raise ValidationError({"organization": "A customer user needs an organisation."})
    if role in STAFF_ROLES and organization is not None:
        raise ValidationError({"organization": "Provider staff do not belong to an organisation."})


def _check_time_zone(name: str) -> None:
    if name not in zoneinfo.available_timezones():
        raise ValidationError({"time_zone": f"{name!r} is not a known time zone."})


def _is_active_admin(user: User) -> bool:
    return user.is_active and user.role == Role.ADMIN


@transaction.atomic
def create_user(
    *,
    actor: User | None,
    email: str,
    role: str,
    password: str | None = None,
    full_name: str = "",
    organization: Organization | None = None,
    limited_to: Iterable[Organization] = (),
    time_zone: str = "UTC",
    is_active: bool = True,
) -> User:
    """Create an account; without a password it cannot sign in until a reset sets one."""
    email = _normalise_email(email)
    _check_role(role, organization)
    _check_time_zone(time_zone)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "A user with this email already exists."})
    user = User(
        email=email,
        full_name=full_name.strip(),
        role=role,
        organization=organization,
        time_zone=time_zone,
        is_active=is_active,
    )
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    limited = list(limited_to)
    if limited:
        if role not in STAFF_ROLES:
            raise ValidationError({"limited_to": "Only provider staff can be limited."})
        user.limited_to.set(limited)
    audit.record_create(user, actor=actor, organization=organization, fields=USER_FIELDS)
    return user


class FirstAdminExists(Exception):
    """Raised when the first-run setup is attempted after an account already exists."""


@transaction.atomic
def create_first_admin(*, email: str, password: str, full_name: str = "") -> User:
    """Create the first provider admin of an empty installation, and nothing else ever."""
    if User.objects.exists():
        raise FirstAdminExists
    return create_user(
        actor=None, email=email, role=Role.ADMIN, password=password, full_name=full_name
    )


@transaction.atomic
def update_user(user: User, *, actor: User | None, **changes: Any) -> User:
    """Change an account. Deactivating it also ends its browser sessions.

    The last active provider admin can neither be deactivated nor lose the admin role, so an
    installation always has someone who can manage it.
    """
    was_active_admin = _is_active_admin(user)
    before = audit.snapshot(user, USER_FIELDS)
    limited = changes.pop("limited_to", None)
    for field, value in changes.items():
        if field not in USER_FIELDS:
            raise ValidationError({field: "This field cannot be changed."})
        if field == "email":
            value = _normalise_email(value)
            if User.objects.filter(email__iexact=value).exclude(pk=user.pk).exists():
                raise ValidationError({"email": "A user with this email already exists."})
        if field == "full_name":
            value = value.strip()
        if field == "time_zone":
            _check_time_zone(value)
        setattr(user, field, value)
    _check_role(user.role, user.organization)
    if actor is not None and actor.pk == user.pk and before["is_active"] and not user.is_active:
        raise ValidationError({"is_active": "You cannot deactivate your own account."})
    if (
        was_active_admin
        and not _is_active_admin(user)
        and not User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).exists()
    ):
        raise ValidationError(
            {"role" if user.is_active else "is_active": "This is the last active provider admin."}
        )
    user.full_clean(exclude=["password"])
    user.save()
    if user.role not in STAFF_ROLES:
        # Teams are provider staff; a user moved to a customer role leaves them.
        user.teams.clear()
        if limited is None and user.limited_to.exists():
            limited = []
    if limited is not None:
        limited = list(limited)
        if limited and user.role not in STAFF_ROLES:
            raise ValidationError({"limited_to": "Only provider staff can be limited."})
        user.limited_to.set(limited)
    if not user.is_active:
        revoke_all_sessions(user, actor=actor)
    audit.record_update(
        user, actor=actor, organization=user.organization, before=before, fields=USER_FIELDS
    )
    return user


@transaction.atomic
def set_password(
    user: User, *, actor: User | None, password: str, keep_session: str | None = None
) -> User:
    """Set a new password and end every browser session but ``keep_session``.

    A password change is what someone does when they suspect another person knows the old
    one, so that person's sessions must not outlive it.
    """
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    revoke_all_sessions(user, actor=actor, keep=keep_session)
    audit.record(
        user,
        actor=actor,
        action=AuditEntry.Action.SECURITY,
        organization=user.organization,
        note="password changed",
    )
    return user


def generate_password() -> str:
    return secrets.token_urlsafe(15)
