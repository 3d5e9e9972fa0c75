from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "buttress.escalation"
    label = "escalation"
    verbose_name = "Escalation"
