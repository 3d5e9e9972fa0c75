from __future__ import annotations

from django.tasks import task

from buttress.accounts import mail
from buttress.accounts.models import User


@task()
def send_password_reset(user_id: int) -> bool:
    """Mail a reset link; False when the account is gone or inactive by the time this runs."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    mail.send_password_reset(user)
    return True
