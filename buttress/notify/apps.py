from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "buttress.notify"
    label = "notify"
    verbose_name = "Notifications"
