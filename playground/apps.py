from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "playground"
    verbose_name = "Models and generations"

    def ready(self) -> None:
        from django.core.checks import register

        from playground.catalog.checks import check_catalog

        # A malformed model spec stops `manage.py check` (and every command
        # that runs checks) with the file and field named.
        register(check_catalog)
