from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "buttress.sla"
    label = "sla"
    verbose_name = "Service levels"
