"""Signing in (password, then a second factor when the user has one), out, first-run setup
and password reset."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice

from buttress.accounts import services, tasks
from buttress.accounts.forms import (
    CodeForm,
    LoginForm,
    PasswordResetForm,
    SetPasswordForm,
    SetupForm,
    apply_errors,
)
from buttress.accounts.http import client_ip, user_agent
from buttress.accounts.middleware import TRACKED_SESSION_KEY, FirstRunMiddleware
from buttress.accounts.models import User

PENDING_KEY = "_buttress_pending_second_factor"
# The password step is good for this long; after it the whole sign-in starts again.
PENDING_SECONDS = 300
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
BAD_CREDENTIALS = "The email or password is not right."
BAD_CODE = "That code is not right. Type the newest code from your app, or a backup code."


def _safe_next(request: HttpRequest, target: str | None) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _throttled_message(exc: services.Throttled) -> str:
    return (
        "Too many failed sign-in attempts. For your account's safety, signing in is paused: "
        f"try again in {exc.minutes} minute{'s' if exc.minutes != 1 else ''}, or reset your "
        "password."
    )


def _complete_login(
    request: HttpRequest, user: User, *, backend: str, device: Device | None, next_url: str
) -> HttpResponse:
    auth_login(request, user, backend=backend)
    if device is not None:
        otp_login(request, device)
    services.clear_sign_in_failures(email=user.email)
    if device is None:
        method = "password"
    elif isinstance(device, StaticDevice):
        method = "password and a backup code"
    else:
        method = "password and authenticator app"
    key = request.session.session_key
    assert key is not None  # login() saved a fresh session
    services.record_login(
        user,
        session_key=key,
        ip_address=client_ip(request),
        user_agent=user_agent(request),
        method=method,
    )
    request.session[TRACKED_SESSION_KEY] = True
    return HttpResponseRedirect(_safe_next(request, next_url))


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.user.is_authenticated:
        return HttpResponseRedirect(_safe_next(request, next_url))
    form = LoginForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        ip = client_ip(request)
        try:
            services.check_sign_in_allowed(email=email, ip_address=ip)
        except services.Throttled as exc:
            form.add_error(None, _throttled_message(exc))
            status = 429
        else:
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            if not isinstance(user, User):
                services.note_sign_in_failure(email=email, ip_address=ip)
                form.add_error(None, BAD_CREDENTIALS)
            elif services.has_two_factor(user):
                # Not signed in yet: only this marker says the password was right.
                request.session.cycle_key()
                request.session[PENDING_KEY] = {
                    "user": user.pk,
                    "backend": getattr(user, "backend", MODEL_BACKEND),
                    "at": time.time(),
                    "next": next_url,
                }
                return redirect("accounts:login_verify")
            else:
                return _complete_login(
                    request,
                    user,
                    backend=getattr(user, "backend", MODEL_BACKEND),
                    device=None,
                    next_url=next_url,
                )
    return render(request, "accounts/login.html", {"form": form, "next": next_url}, status=status)


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        del request.session[PENDING_KEY]
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    return user, pending


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    found = _pending_user(request)
    if found is None:
        messages.info(request, "Sign in with your email and password first.")
        return redirect("accounts:login")
    user, pending = found
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        try:
            services.check_sign_in_allowed(email=user.email, ip_address=ip)
        except services.Throttled as exc:
            del request.session[PENDING_KEY]
            messages.error(request, _throttled_message(exc))
            return redirect("accounts:login")
        device = services.verify_second_factor(user, form.cleaned_data["code"])
        if device is None:
            services.note_sign_in_failure(email=user.email, ip_address=ip)
            form.add_error("code", BAD_CODE)
        else:
            del request.session[PENDING_KEY]
            return _complete_login(
                request,
                user,
                backend=str(pending.get("backend") or MODEL_BACKEND),
                device=device,
                next_url=str(pending.get("next") or ""),
            )
    return render(request, "accounts/login_verify.html", {"form": form}, status=status)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        services.record_logout(user, session_key=request.session.session_key)
    auth_logout(request)
    messages.success(request, "You are signed out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Create the first provider admin of a new installation; gone once anyone exists."""
    if User.objects.exists():
        raise Http404("This installation is already set up.")
    form = SetupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_first_admin(
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
        except services.FirstAdminExists as exc:
            raise Http404("This installation is already set up.") from exc
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            FirstRunMiddleware.users_exist = True
            response = _complete_login(
                request, user, backend=MODEL_BACKEND, device=None, next_url=""
            )
            messages.success(request, "Welcome to buttress. Your admin account is ready.")
            return response
    return render(request, "accounts/setup.html", {"form": form})


# --- password reset --------------------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link. The answer is the same whether or not the email has an account."""

    form_class = PasswordResetForm  # type: ignore[assignment]
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        email = form.cleaned_data["email"]
        ip = client_ip(self.request)
        try:
            services.check_password_reset_allowed(email=email, ip_address=ip)
        except services.Throttled as exc:
            form.add_error(
                None,
                f"Too many reset requests. Try again in {exc.minutes} minute"
                f"{'s' if exc.minutes != 1 else ''}.",
            )
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        services.note_password_reset_request(email=email, ip_address=ip)
        for user in form.users():
            tasks.send_password_reset.enqueue(user.pk)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Proving control of the mailbox lifts a sign-in pause on the account.
        if self.user is not None:
            services.clear_sign_in_failures(email=self.user.email)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
