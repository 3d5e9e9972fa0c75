"""The signed-in user's own account: profile, second factor, sessions and API tokens."""

from __future__ import annotations

import re

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from buttress.accounts import access, services
from buttress.accounts.forms import (
    CodeForm,
    DisableTwoFactorForm,
    PasswordChangeForm,
    PasswordConfirmForm,
    ProfileForm,
    TokenForm,
    apply_errors,
)
from buttress.accounts.models import STAFF_ROLES, User

TOKEN_LIST_LIMIT = 100


def _me(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _secret_page(response: HttpResponse) -> HttpResponse:
    # A page carrying a secret shown once must not be kept by the browser or a proxy.
    add_never_cache_headers(response)
    response["Cache-Control"] += ", no-store"
    return response


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    profile_form = ProfileForm(initial={"full_name": user.full_name, "time_zone": user.time_zone})
    password_form = PasswordChangeForm(user)
    if request.method == "POST" and request.POST.get("action") == "profile":
        profile_form = ProfileForm(request.POST)
        if profile_form.is_valid():
            try:
                services.update_user(user, actor=user, **profile_form.cleaned_data)
            except ValidationError as exc:
                apply_errors(profile_form, exc)
            else:
                messages.success(request, "Your profile is saved.")
                return redirect("accounts:profile")
    elif request.method == "POST" and request.POST.get("action") == "password":
        password_form = PasswordChangeForm(user, request.POST)
        if password_form.is_valid():
            old_key = request.session.session_key
            try:
                services.set_password(
                    user,
                    actor=user,
                    password=password_form.cleaned_data["new_password1"],
                    keep_session=old_key,
                )
            except ValidationError as exc:
                apply_errors(password_form, exc)
            else:
                # Django rotates the session key here; the tracked session follows it.
                update_session_auth_hash(request, user)
                key = request.session.session_key
                if key:
                    services.rekey_session(old_key, key)
                messages.success(
                    request, "Your password is changed. Your other sessions were signed out."
                )
                return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {"profile_form": profile_form, "password_form": password_form},
    )


def qr_svg(data: str) -> SafeString:
    """``data`` as an inline SVG QR code (segno writes only the SVG it generates)."""
    svg = segno.make(data, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff")
    return mark_safe(svg)  # noqa: S308 - generated markup, no user input is interpolated raw


@sensitive_post_parameters("password", "code")
@login_required
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    """Two-factor authentication: one address, so a user made to set it up can reach all steps."""
    user = _me(request)
    action = request.POST.get("action") if request.method == "POST" else None
    confirm_form = CodeForm()
    disable_form = DisableTwoFactorForm(user=user)
    codes_form = PasswordConfirmForm(user=user)

    if action == "begin":
        try:
            services.begin_totp_setup(user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("accounts:security")
    if action == "confirm":
        confirm_form = CodeForm(request.POST)
        if confirm_form.is_valid():
            try:
                device, codes = services.confirm_totp(
                    user,
                    code=confirm_form.cleaned_data["code"],
                    keep_session=request.session.session_key,
                )
            except ValidationError as exc:
                apply_errors(confirm_form, exc)
            else:
                otp_login(request, device)
                messages.success(request, "Two-factor authentication is on.")
                return _backup_codes_page(request, codes)
    elif action == "codes":
        codes_form = PasswordConfirmForm(request.POST, user=user)
        if codes_form.is_valid():
            try:
                codes = services.regenerate_backup_codes(user, actor=user)
            except ValidationError as exc:
                apply_errors(codes_form, exc)
            else:
                messages.success(request, "New backup codes made; the old ones no longer work.")
                return _backup_codes_page(request, codes)
    elif action == "disable":
        disable_form = DisableTwoFactorForm(request.POST, user=user)
        if disable_form.is_valid():
            if services.verify_second_factor(user, disable_form.cleaned_data["code"]) is None:
                disable_form.add_error("code", "That code is not right.")
            else:
                services.disable_two_factor(user, actor=user)
                messages.success(request, "Two-factor authentication is off.")
                return redirect("accounts:security")

    enabled = services.has_two_factor(user)
    pending = None if enabled else services.pending_totp(user)
    context = {
        "enabled": enabled,
        "pending": pending,
        "qr_svg": qr_svg(pending.config_url) if pending else None,
        "secret_groups": _group(pending.secret) if pending else "",
        "remaining_codes": services.remaining_backup_codes(user) if enabled else 0,
        "required": settings.REQUIRE_STAFF_2FA and user.role in STAFF_ROLES and not enabled,
        "confirm_form": confirm_form,
        "disable_form": disable_form,
        "codes_form": codes_form,
    }
    return _secret_page(render(request, "accounts/security.html", context))


def _group(secret: str) -> str:
    return " ".join(re.findall(".{1,4}", secret))


def _backup_codes_page(request: HttpRequest, codes: list[str]) -> HttpResponse:
    return _secret_page(render(request, "accounts/backup_codes.html", {"codes": codes}))


# --- sessions --------------------------------------------------------------------------------

_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_user_agent(agent: str) -> str:
    """A short, approximate "Browser on System" for a person recognising their own devices."""
    if not agent:
        return "Unknown browser"
    browser = next((name for marker, name in _BROWSERS if marker in agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or agent[:60]


@login_required
@require_http_methods(["GET", "POST"])
def sessions(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    current = request.session.session_key
    if request.method == "POST":
        if request.POST.get("action") == "revoke_others":
            count = services.revoke_all_sessions(user, actor=user, keep=current)
            messages.success(request, f"Signed out {count} other session(s).")
        else:
            session = access.get_session_for(user, request.POST.get("session", ""))
            if session.session_key == current:
                messages.error(request, "To end this session, sign out.")
            else:
                services.revoke_session(session, actor=user)
                messages.success(request, "That session is signed out.")
        return redirect("accounts:sessions")
    rows = [
        {
            "session": session,
            "browser": describe_user_agent(session.user_agent),
            "current": session.session_key == current,
        }
        for session in access.sessions_for(user).order_by("-last_seen_at", "-id")
    ]
    return render(request, "accounts/sessions.html", {"rows": rows})


# --- API tokens ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    form = TokenForm(user=user)
    issued = None
    if request.method == "POST" and request.POST.get("action") == "revoke":
        token = access.get_token_for(user, request.POST.get("token", ""))
        services.revoke_token(token, actor=user)
        messages.success(request, f"The token “{token.name}” is revoked.")
        return redirect("accounts:tokens")
    if request.method == "POST":
        form = TokenForm(request.POST, user=user)
        if form.is_valid():
            try:
                issued = services.create_token(
                    user,
                    actor=user,
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    expires_at=form.expires_at,
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                form = TokenForm(user=user)
    listed = list(access.tokens_for(user).order_by("-created_at", "-id")[: TOKEN_LIST_LIMIT + 1])
    response = render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "issued": issued,
            "tokens": listed[:TOKEN_LIST_LIMIT],
            "more_tokens": len(listed) > TOKEN_LIST_LIMIT,
        },
    )
    return _secret_page(response) if issued else response
