from __future__ import annotations

import pytest

from buttress.accounts.models import User


@pytest.fixture(autouse=True)
def _installed(db: None, admin_user: User) -> None:
    """An install with an account: before the first one, every page but /api/ and the health
    endpoints redirects to the first-run setup."""
