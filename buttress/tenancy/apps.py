from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "buttress.tenancy"
    label = "tenancy"
    verbose_name = "Organisations"
