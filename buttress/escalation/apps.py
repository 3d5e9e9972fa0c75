from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "buttress.escalation"
    label = "escalation"
    verbose_name = "Escalation"

    def ready(self) -> None:
        from buttress.notify.signals import acknowledged

        acknowledged.connect(_stop_paging, dispatch_uid="escalation.stop_paging")


def _stop_paging(sender: Any, *, ticket: Any, user: Any, at: Any, **kwargs: Any) -> None:
    from buttress.escalation.services import stop_paging

    stop_paging(ticket, actor=user, at=at)
