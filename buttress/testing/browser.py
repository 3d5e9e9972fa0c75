"""Driving the system Chromium with Playwright, for the tests marked ``browser``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect, sync_playwright

from buttress.lib.chromium import CHROMIUM, CHROMIUM_ARGS
from buttress.testing.factories import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures and
# assertions here are still plain synchronous calls, outside any coroutine.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(base_url + reverse("accounts:login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base_url + reverse("web:home"))


def mark_page(page: Page) -> None:
    """Leave a mark in the page's JavaScript state; a full page load wipes it."""
    page.evaluate("window.__sameDocument = true")


def still_same_page(page: Page) -> bool:
    """Whether the page was updated in place (HTMX) since :func:`mark_page`."""
    return bool(page.evaluate("window.__sameDocument === true"))
