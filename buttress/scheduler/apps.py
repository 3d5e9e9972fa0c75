from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class SchedulerConfig(AppConfig):
    name = "buttress.scheduler"
    label = "scheduler"

    def ready(self) -> None:
        # Each app's timers.py registers the due-time columns it wants driven.
        autodiscover_modules("timers")
