"""Which audit entries a user may read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q

from buttress.audit.models import AuditEntry, AuditEntryQuerySet
from buttress.tenancy.access import (
    Capability,
    can,
    has_unrestricted_scope,
    organizations_for,
)

if TYPE_CHECKING:
    from buttress.accounts.models import User


def entries_for(user: User) -> AuditEntryQuerySet:
    """The entries of the organisations ``user`` sees; none for a role without the audit log.

    Entries about no organisation (teams, staff accounts, deleted organisations) are shown only
    to an admin who sees every organisation.
    """
    if not can(user, Capability.VIEW_AUDIT):
        return AuditEntry.objects.none()
    scope = Q(organization__in=organizations_for(user))
    if has_unrestricted_scope(user):
        scope |= Q(organization__isnull=True)
    return AuditEntry.objects.filter(scope)
