from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "buttress.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
