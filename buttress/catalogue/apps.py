from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "buttress.catalogue"
    label = "catalogue"
    verbose_name = "Service catalogue"
