from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "buttress.alerts"
    label = "alerts"
    verbose_name = "Alerts"
