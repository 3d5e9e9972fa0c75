from django.apps import AppConfig


class ResponseConfig(AppConfig):
    name = "buttress.response"
    label = "response"
    verbose_name = "Incident response"
