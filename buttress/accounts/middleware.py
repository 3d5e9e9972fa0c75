"""Request-level account rules: first-run setup, session tracking, required second factor."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from buttress.accounts import services
from buttress.accounts.http import client_ip, user_agent
from buttress.accounts.models import STAFF_ROLES, User

# Machine endpoints and assets never redirect to a page meant for a person.
# Machines call these: they never see the first-run setup page or sign-in redirects.
_MACHINE_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/hooks/", "/v2/enqueue", "/ping/")
TRACKED_SESSION_KEY = "_buttress_session_tracked"


def _is_machine_or_static(path: str) -> bool:
    return path.startswith((*_MACHINE_PREFIXES, settings.STATIC_URL))


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        # htmx would swap a redirected page into a fragment; ask it to navigate instead.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class FirstRunMiddleware:
    """Until an account exists, send every page to the first-admin setup.

    Once an account exists it always will (the last admin cannot be removed), so the answer
    is remembered per process and the check then costs nothing.
    """

    users_exist: ClassVar[bool] = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @classmethod
    def forget(cls) -> None:
        cls.users_exist = False

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Machine endpoints are never redirected, so they need not ask: a health check must
        # not query the database just because nobody has signed up yet.
        if not FirstRunMiddleware.users_exist and not _is_machine_or_static(request.path):
            if User.objects.exists():
                FirstRunMiddleware.users_exist = True
            else:
                setup_url = reverse("accounts:setup")
                if request.path != setup_url:
                    return _redirect(request, setup_url)
        return self.get_response(request)


class SessionTrackingMiddleware:
    """Keep each signed-in session's row current, and end a session whose row was revoked.

    A session that predates tracking (or was opened without the sign-in page, as tests do)
    is tracked on its first request; only a session that *was* tracked and lost its row has
    been revoked.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        key = request.session.session_key
        if user.is_authenticated and key:
            if request.session.get(TRACKED_SESSION_KEY):
                if not services.touch_session(key):
                    logout(request)
            else:
                services.track_session(
                    user,
                    session_key=key,
                    ip_address=client_ip(request),
                    user_agent=user_agent(request),
                )
                request.session[TRACKED_SESSION_KEY] = True
        return self.get_response(request)


class TwoFactorEnforcementMiddleware:
    """With ``REQUIRE_STAFF_2FA``, provider staff without a second factor may only set one up.

    API requests pass: a token is its own factor and is issued from a signed-in page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if getattr(settings, "REQUIRE_STAFF_2FA", False) and self._must_set_up(request):
            return _redirect(request, reverse("accounts:security"))
        return self.get_response(request)

    @staticmethod
    def _must_set_up(request: HttpRequest) -> bool:
        user = request.user
        if not user.is_authenticated or user.role not in STAFF_ROLES:
            return False
        if _is_machine_or_static(request.path):
            return False
        if request.path in (reverse("accounts:security"), reverse("accounts:logout")):
            return False
        is_verified = getattr(user, "is_verified", None)
        if is_verified is not None and is_verified():
            return False
        return not services.has_two_factor(user)
