from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "buttress.maintenance"
    label = "maintenance"
    verbose_name = "Maintenance windows"
