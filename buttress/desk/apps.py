from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "buttress.desk"
    label = "desk"
    verbose_name = "Service desk"
