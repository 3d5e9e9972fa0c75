from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from buttress.ops.metrics import observe_request

UNMATCHED = "<unmatched>"


class RequestMetricsMiddleware:
    """Count and time every request, labelled by URL pattern rather than path.

    The pattern (``/api/v1/assets/<int:asset_id>``) keeps the number of label values bounded
    however many objects exist; a path that matched nothing is counted as ``<unmatched>``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = f"/{match.route}" if match is not None else UNMATCHED
        observe_request(
            method=request.method or "",
            route=route,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response
