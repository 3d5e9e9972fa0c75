from datetime import timedelta

from django.db.models import Q

from buttress.desk.models import InboundMail, Mailbox
from buttress.desk.tasks.inbound import poll_mailbox, process_inbound
from buttress.scheduler.registry import Timer, register

# Normally a stored message is processed at once or by the task queued with it; this catches
# one whose processing was lost.
register(
    Timer(
        "desk.inbound_mail",
        InboundMail,
        "process_due_at",
        process_inbound,
        lease=timedelta(minutes=2),
    )
)
register(
    Timer(
        "desk.mailbox_poll",
        Mailbox,
        "poll_due_at",
        poll_mailbox,
        lease=timedelta(minutes=10),
        condition=Q(is_enabled=True),
    )
)
