from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "buttress.ops"
    label = "ops"
