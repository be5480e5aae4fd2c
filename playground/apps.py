import logging

from django.apps import AppConfig
from django.conf import settings
from django.core.signals import request_finished
from django.db.models.signals import post_migrate

from playground import search
from playground.ops import logs


class PlaygroundConfig(AppConfig):
    name = "playground"
    verbose_name = "Models and generations"

    def ready(self) -> None:
        from django.core.checks import register

        from playground.catalog.checks import check_catalog

        # A malformed model spec stops `manage.py check` (and every command
        # that runs checks) with the file and field named.
        register(check_catalog)

        request_finished.connect(logs.end_request, dispatch_uid="playground.ops.end_request")
        # On SQLite a migration that rebuilds the generations table drops the
        # prompt index's triggers with the old table (playground/search.py).
        post_migrate.connect(
            search.restore_after_migrate, sender=self, dispatch_uid="playground.search.restore"
        )
        if settings.LOG_FORMAT == "json":
            # Python's warnings go to the log (its py.warnings logger), in
            # JSON like every other line, instead of plain text on stderr.
            logging.captureWarnings(True)
