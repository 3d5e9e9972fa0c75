"""Small helpers for views that answer both full-page and HTMX requests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


def is_htmx(request: HttpRequest) -> bool:
    """An HTMX request that wants a fragment.

    A history-restore request (back button after a cache miss) wants the whole page.
    """
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def vary_on_htmx(response: HttpResponse) -> HttpResponse:
    # The same URL answers a fragment or a page; caches must not hand one out for the other.
    patch_vary_headers(response, ["HX-Request"])
    return response
