"""Signed-in browser sessions: remembered at sign-in so that they can be listed and revoked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.db import transaction

from buttress.accounts.models import User, UserSession
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.lib.timeutil import now

# Last-seen times are written at most this often, so browsing doesn't write on every request.
TOUCH_RESOLUTION = timedelta(minutes=1)


def _end_stored_sessions(keys: Iterable[str]) -> None:
    # Through the configured session engine, so revocation also works for cache-backed sessions.
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()


def track_session(
    user: User, *, session_key: str, ip_address: str | None, user_agent: str
) -> UserSession:
    """Remember a signed-in session so that it can be listed and revoked."""
    session, _ = UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "ip_address": ip_address or None,
            "user_agent": user_agent[:300],
            "last_seen_at": now(),
        },
    )
    return session


@transaction.atomic
def record_login(
    user: User, *, session_key: str, ip_address: str | None, user_agent: str, method: str
) -> UserSession:
    """Track the new session and audit the sign-in; ``method`` says which factors were used."""
    session = track_session(
        user, session_key=session_key, ip_address=ip_address, user_agent=user_agent
    )
    audit.record(
        user,
        actor=user,
        action=AuditEntry.Action.LOGIN,
        organization=user.organization,
        note=f"signed in with {method} from {ip_address or 'unknown address'}",
    )
    return session


@transaction.atomic
def record_logout(user: User, *, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
    audit.record(user, actor=user, action=AuditEntry.Action.LOGOUT, organization=user.organization)


def touch_session(session_key: str) -> bool:
    """Note activity on a session; False when it is no longer tracked (it was revoked)."""
    seen = (
        UserSession.objects.filter(session_key=session_key)
        .values_list("last_seen_at", flat=True)
        .first()
    )
    if seen is None:
        return False
    moment = now()
    if moment - seen >= TOUCH_RESOLUTION:
        UserSession.objects.filter(session_key=session_key).update(last_seen_at=moment)
    return True


def rekey_session(old_key: str | None, new_key: str) -> None:
    """Follow a session whose key was rotated (Django does so on a password change)."""
    if old_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def forget_session(session_key: str) -> None:
    """Drop the record of a session that has ended on its own."""
    UserSession.objects.filter(session_key=session_key).delete()


@transaction.atomic
def revoke_session(session: UserSession, *, actor: User | None) -> None:
    _end_stored_sessions([session.session_key])
    audit.record(
        session.user,
        actor=actor,
        action=AuditEntry.Action.SECURITY,
        organization=session.user.organization,
        note=f"session from {session.ip_address or 'unknown address'} revoked",
    )
    session.delete()


@transaction.atomic
def revoke_all_sessions(user: User, *, actor: User | None, keep: str | None = None) -> int:
    """End every session of ``user`` except ``keep``; the number ended."""
    sessions = UserSession.objects.filter(user=user)
    if keep:
        sessions = sessions.exclude(session_key=keep)
    keys = list(sessions.values_list("session_key", flat=True))
    if not keys:
        return 0
    _end_stored_sessions(keys)
    sessions.delete()
    audit.record(
        user,
        actor=actor,
        action=AuditEntry.Action.SECURITY,
        organization=user.organization,
        note=f"{len(keys)} session(s) revoked",
    )
    return len(keys)
