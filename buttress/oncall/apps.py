from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "buttress.oncall"
    label = "oncall"
    verbose_name = "On-call schedules"
