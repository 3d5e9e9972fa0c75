from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "buttress.scheduler"
    label = "scheduler"
