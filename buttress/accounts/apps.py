from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "buttress.accounts"
    label = "accounts"
    verbose_name = "Accounts"
