from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "buttress.api"
    label = "api"
    verbose_name = "REST API"
