from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "buttress.web"
    label = "web"
