from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "buttress.assets"
    label = "assets"
    verbose_name = "Assets (CMDB)"
