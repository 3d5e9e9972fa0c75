"""Whether anybody listens to desk events at all (a subscription or an active webhook).

Asked once per recorded event on the desk's hot paths (a mass SLA breach writes thousands of
events), so it is remembered per process for a few seconds: when nobody listens, the fan-out
costs nothing. A subscription or webhook made in another process is seen within
``CACHE_SECONDS``; the process that makes one forgets at once.
"""

from __future__ import annotations

from time import monotonic

from buttress.notify.models import Subscription, WebhookEndpoint

CACHE_SECONDS = 5.0
_memo: list[tuple[float, bool]] = []


def forget() -> None:
    _memo.clear()


def anybody() -> bool:
    if _memo and monotonic() - _memo[0][0] < CACHE_SECONDS:
        return _memo[0][1]
    answer = (
        Subscription.objects.exists() or WebhookEndpoint.objects.filter(is_active=True).exists()
    )
    _memo[:] = [(monotonic(), answer)]
    return answer
