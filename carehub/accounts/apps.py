from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "carehub.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from carehub.accounts import policies, signals  # noqa: F401
