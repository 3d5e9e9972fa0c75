"""API tokens: issued once, stored only as a hash, revoked rather than deleted."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import ApiToken, User
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.lib.timeutil import ensure_aware, now

TOKEN_PREFIX = "btr"  # noqa: S105 - a public marker, not a secret
# A token's last use is written at most this often, so reads through the API don't each write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the full bearer value; shown once and never stored


@transaction.atomic
def create_token(
    user: User,
    *,
    actor: User | None,
    name: str,
    scope: str = ApiToken.Scope.READ,
    expires_at: datetime | None = None,
) -> IssuedToken:
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": "Scope must be read or write."})
    if not name.strip():
        raise ValidationError({"name": "Give the token a name."})
    if expires_at is not None:
        expires_at = ensure_aware(expires_at)
        if expires_at <= now():
            raise ValidationError({"expires_at": "The expiry must be in the future."})
    if not user.is_active:
        raise ValidationError({"user": "An inactive user cannot be given a token."})
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:120],
        prefix=prefix,
        digest=ApiToken.hash_secret(secret),
        scope=scope,
        expires_at=expires_at,
    )
    audit.record(
        token,
        actor=actor,
        action=AuditEntry.Action.SECURITY,
        organization=user.organization,
        note=f"API token {token.name!r} ({scope}) created for {user.email}",
    )
    return IssuedToken(token=token, secret=f"{TOKEN_PREFIX}_{prefix}_{secret}")


def authenticate_token(raw: str) -> ApiToken | None:
    """The usable token whose bearer value is ``raw``, or None. Updates its last use."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    _, prefix, secret = parts
    token = (
        ApiToken.objects.usable()
        .select_related("user", "user__organization")
        .filter(prefix=prefix, user__is_active=True)
        .first()
    )
    if token is None or not secrets.compare_digest(token.digest, ApiToken.hash_secret(secret)):
        return None
    moment = now()
    if token.last_used_at is None or moment - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=moment)
        token.last_used_at = moment
    return token


@transaction.atomic
def revoke_token(token: ApiToken, *, actor: User | None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            token,
            actor=actor,
            action=AuditEntry.Action.SECURITY,
            organization=token.user.organization,
            note=f"API token {token.name!r} revoked",
        )
    return token
