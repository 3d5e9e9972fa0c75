from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "buttress.portal"
    label = "portal"
    verbose_name = "Customer portal"
