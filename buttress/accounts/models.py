from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower

from buttress.lib.timeutil import now


class Role(models.TextChoices):
    ADMIN = "admin", "Provider admin"
    AGENT = "agent", "Agent"
    VIEWER = "viewer", "Read-only viewer"
    ORG_ADMIN = "org_admin", "Organisation admin"
    END_USER = "end_user", "End user"


STAFF_ROLES = frozenset({Role.ADMIN, Role.AGENT, Role.VIEWER})
CUSTOMER_ROLES = frozenset({Role.ORG_ADMIN, Role.END_USER})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", Role.ADMIN)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: provider staff or a customer's user, told apart by ``role``.

    Staff (admin, agent, viewer) see every organisation unless ``limited_to`` names some;
    customer users (org_admin, end_user) belong to exactly one ``organization``.
    """

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.END_USER)
    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="users",
        help_text="The organisation of a customer user.",
    )
    limited_to = models.ManyToManyField(
        "tenancy.Organization",
        blank=True,
        related_name="+",
        help_text="Staff only: the organisations this user may see; empty means all.",
    )
    contact = models.OneToOneField(
        "tenancy.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="user"
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=now)
    time_zone = models.CharField(max_length=64, default="UTC")

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=["org_admin", "end_user"], organization__isnull=False)
                    | models.Q(role__in=["admin", "agent", "viewer"], organization__isnull=True)
                ),
                name="user_role_matches_organization",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_staff(self) -> bool:
        """Django's admin flag; buttress has no Django admin, so this mirrors the provider role."""
        return self.role == Role.ADMIN

    @property
    def is_provider_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name


class Team(models.Model):
    """A group of provider staff that owns assets and, later, tickets and on-call duty."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(User, blank=True, related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="team_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now())
        )


class ApiToken(models.Model):
    """A bearer token. Only a SHA-256 of the secret is stored; the token is shown once."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    # The public part of the token, used to find the row without scanning hashes.
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        # Tokens carry 256 bits of randomness, so a fast hash is enough: there is nothing
        # to brute-force, unlike a password.
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= now()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class UserSession(models.Model):
    """A signed-in browser session of a user, so that it can be listed and revoked."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="browser_sessions")
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=now)
    last_seen_at = models.DateTimeField(default=now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.ip_address or ''} {self.user_agent[:40]}"


class SignInAttempt(models.Model):
    """A failed sign-in or a password-reset request, counted to slow down guessing.

    Kept in the database rather than a per-process cache so that every web worker sees the
    same count; old rows are pruned whenever a new one is written.
    """

    class Kind(models.TextChoices):
        FAILED_LOGIN = "failed_login", "Failed sign-in"
        PASSWORD_RESET = "password_reset", "Password reset request"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField(default=now)
    email = models.CharField(max_length=254, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["kind", "email", "at"], name="signin_attempt_email_idx"),
            models.Index(fields=["kind", "ip_address", "at"], name="signin_attempt_ip_idx"),
            models.Index(fields=["at"], name="signin_attempt_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.email} {self.ip_address or ''}"
