from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "buttress.audit"
    label = "audit"
    verbose_name = "Audit log"
