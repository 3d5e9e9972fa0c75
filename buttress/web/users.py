from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from buttress.accounts.models import User


def current_user(request: HttpRequest) -> User:
    """The signed-in user of a view that requires sign-in."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        # login_required runs first; reaching this is a wiring mistake, never a visitor.
        raise PermissionDenied("Sign in first.")
    return user
