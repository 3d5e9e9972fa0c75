from __future__ import annotations

from collections.abc import Iterator

import pytest

from buttress.notify import listening


@pytest.fixture(autouse=True)
def _fresh_listening_memo() -> Iterator[None]:
    # Each test's database starts empty; a memo from an earlier test would be wrong.
    listening.forget()
    yield
    listening.forget()
