"""The only code that changes notification state. Other apps call :func:`notify_user`.

Split by topic: :mod:`.people` (contact methods, rules, subscriptions), :mod:`.sending`
(notify_user, quiet hours), :mod:`.delivery` (attempts and retries), :mod:`.hooks` (webhooks),
:mod:`.fanout` (desk events to notifications and webhook deliveries).
"""

from __future__ import annotations

from buttress.notify.services.sending import cancel_pending, notify_user

__all__ = ["cancel_pending", "notify_user"]
