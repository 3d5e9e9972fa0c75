"""Forms of the accounts area. They validate input; the views call services to act on it."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time
from functools import cache
from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from buttress.accounts import access, services
from buttress.accounts.models import CUSTOMER_ROLES, STAFF_ROLES, ApiToken, Role, Team, User
from buttress.lib.timeutil import now
from buttress.tenancy.access import has_unrestricted_scope
from buttress.tenancy.models import Organization
from buttress.web.forms import ModelMultipleChoiceField


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError next to the fields it names."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "autocapitalize": "off",
                "spellcheck": "false",
            }
        ),
    )


class SetupForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "username"})
    )
    full_name = forms.CharField(
        label="Name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            try:
                validate_password(
                    first, User(email=data.get("email", ""), full_name=data.get("full_name", ""))
                )
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class ProfileForm(forms.Form):
    full_name = forms.CharField(
        label="Name",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    time_zone = forms.ChoiceField(
        label="Time zone", help_text="Times are shown to you in this zone."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()  # type: ignore[attr-defined]


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's checks (old password, two new ones, validators); the view saves via services."""

    def save(self, commit: bool = True) -> User:
        raise NotImplementedError("Call services.set_password instead.")


class PasswordResetForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def users(self) -> list[User]:
        """Who gets a link: the active account with this email, with or without a password.

        An account created without a password sets its first one through a reset.
        """
        email = self.cleaned_data["email"].strip().lower()
        return list(User.objects.filter(email__iexact=email, is_active=True))


class SetPasswordForm(auth_forms.SetPasswordForm):  # type: ignore[type-arg]
    """Sets the password through services, so it is audited and other sessions end."""

    def save(self, commit: bool = True) -> User:
        user = self.user
        assert isinstance(user, User)
        services.set_password(user, actor=user, password=self.cleaned_data["new_password1"])
        return user


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError("That is not your password.")
        return password


class DisableTwoFactorForm(PasswordConfirmForm):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="A code from your authenticator app, or a backup code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


class TokenForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="What uses it, e.g. “backup script”.")
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        widget=forms.RadioSelect,
        help_text="A token never does more than your role allows.",
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        help_text="Optional. The token stops working at the start of this day (your time zone).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_expires_on(self) -> date | None:
        day: date | None = self.cleaned_data.get("expires_on")
        if day is not None and self.expires_at_for(day) <= now():
            raise ValidationError("Choose a day in the future.")
        return day

    def expires_at_for(self, day: date) -> datetime:
        try:
            zone = zoneinfo.ZoneInfo(self.user.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo("UTC")
        return datetime.combine(day, time.min, tzinfo=zone)

    @property
    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return self.expires_at_for(day) if day is not None else None


# --- users and teams -------------------------------------------------------------------------


class UserFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200)
    role = forms.ChoiceField(required=False)
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), required=False, empty_label="Any organisation"
    )

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roles = access.assignable_roles(actor)
        self.fields["role"].choices = [("", "Any role")] + [  # type: ignore[attr-defined]
            (role.value, role.label) for role in roles
        ]
        self.fields["organization"].queryset = access.assignable_organizations(actor)  # type: ignore[attr-defined]


class UserForm(forms.Form):
    """Create or change an account within what the acting user may manage."""

    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    full_name = forms.CharField(label="Name", max_length=200, required=False)
    role = forms.ChoiceField()
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        required=False,
        help_text="Required for organisation admins and end users; empty for provider staff.",
    )
    limited_to = ModelMultipleChoiceField(
        label="Limited to organisations",
        queryset=Organization.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Provider staff only. None ticked: every organisation.",
    )
    time_zone = forms.ChoiceField(label="Time zone", initial="UTC")
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=(
            "Optional. Without one, the person sets their own with “Forgot your password?” "
            "on the sign-in page."
        ),
    )

    def __init__(self, *args: Any, actor: User, instance: User | None = None, **kwargs: Any):
        self.actor = actor
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "email": instance.email,
                "full_name": instance.full_name,
                "role": instance.role,
                "organization": instance.organization_id,
                "limited_to": list(instance.limited_to.all()),
                "time_zone": instance.time_zone,
            }
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [  # type: ignore[attr-defined]
            (role.value, role.label) for role in access.assignable_roles(actor)
        ]
        self.fields["time_zone"].choices = time_zone_choices()  # type: ignore[attr-defined]
        orgs: QuerySet[Organization] = access.assignable_organizations(actor)
        self.fields["organization"].queryset = orgs  # type: ignore[attr-defined]
        if actor.role == Role.ORG_ADMIN:
            # Their own organisation is the only choice, so it is not asked.
            del self.fields["organization"]
        if has_unrestricted_scope(actor):
            self.fields["limited_to"].queryset = orgs  # type: ignore[attr-defined]
        else:
            del self.fields["limited_to"]
        if instance is not None:
            del self.fields["password"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        role = data.get("role")
        if "organization" not in self.fields:
            data["organization"] = self.actor.organization
        organization = data.get("organization")
        if role in CUSTOMER_ROLES and organization is None and "organization" in self.fields:
            self.add_error("organization", "Choose the organisation of this user.")
        if role in STAFF_ROLES and organization is not None:
            self.add_error("organization", "Provider staff do not belong to an organisation.")
        if role not in STAFF_ROLES and data.get("limited_to"):
            self.add_error("limited_to", "Only provider staff can be limited.")
        password = data.get("password")
        if password:
            try:
                validate_password(password, User(email=data.get("email", "")))
            except ValidationError as exc:
                self.add_error("password", exc)
        return data

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields: dict[str, Any] = {
            "email": data["email"],
            "full_name": data["full_name"],
            "role": data["role"],
            "organization": data.get("organization"),
            "time_zone": data["time_zone"],
        }
        if "limited_to" in self.fields:
            fields["limited_to"] = list(data.get("limited_to") or [])
        return fields


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    members = ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, actor: User, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        candidates = access.team_member_candidates(actor)
        if team is not None:
            # Keep members who are no longer candidates (deactivated) from silently dropping out.
            candidates = candidates | User.objects.filter(pk__in=team.members.values("pk"))
        self.fields["members"].queryset = candidates.distinct().order_by("email")  # type: ignore[attr-defined]
