"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from buttress.accounts.models import Role, User
from buttress.tenancy.models import Organization
from buttress.testing.factories import OrganizationFactory, UserFactory
from buttress.testing.processes import Processes, process_groups


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # PBKDF2 at production strength costs ~0.3 s a hash; tests hash hundreds of passwords.
    # Subprocess tests (CLI, scheduler) inherit nothing from this and keep the real hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests whose service is missing, unless CI requires every service."""
    required = os.environ.get("BUTTRESS_REQUIRE_SERVICES") == "1"
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    have_redis = _reachable("127.0.0.1", 6379)
    have_chromium = os.path.exists("/usr/bin/chromium")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="runs in the PostgreSQL pass (DATABASE_URL)"))
        if "redis" in item.keywords and not have_redis and not required:
            item.add_marker(pytest.mark.skip(reason="Redis is not reachable"))
        if "browser" in item.keywords and not have_chromium and not required:
            item.add_marker(pytest.mark.skip(reason="/usr/bin/chromium is not installed"))


@pytest.fixture
def org() -> Organization:
    return OrganizationFactory.create(name="Acme Ltd", slug="acme")


@pytest.fixture
def other_org() -> Organization:
    return OrganizationFactory.create(name="Globex Corp", slug="globex")


@pytest.fixture
def admin_user() -> User:
    return UserFactory.create(email="admin@buttress.example", role=Role.ADMIN)


@pytest.fixture
def agent() -> User:
    return UserFactory.create(email="agent@buttress.example", role=Role.AGENT)


@pytest.fixture
def viewer() -> User:
    return UserFactory.create(email="viewer@buttress.example", role=Role.VIEWER)


@pytest.fixture
def org_admin(org: Organization) -> User:
    return UserFactory.create(email="it@acme.example", role=Role.ORG_ADMIN, organization=org)


@pytest.fixture
def end_user(org: Organization) -> User:
    return UserFactory.create(email="staff@acme.example", role=Role.END_USER, organization=org)


@pytest.fixture
def db_task_backend() -> None:
    """For tests that read django-tasks-db's rows: they run in the database-backend passes.

    Tasks are bound to the backend's task class when their module is imported, so a test cannot
    switch backends half-way; the Redis pass has its own end-to-end tests.
    """
    from django.conf import settings

    if settings.TASK_BACKEND != "db":
        pytest.skip("reads django-tasks-db rows; runs in the database-backend passes")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Processes]]:
    """Start buttress processes (``group.start("scheduler")``); all are stopped afterwards."""
    yield from process_groups(tmp_path)
