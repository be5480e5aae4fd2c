"""When each background process last finished a pass, for /readyz.

Imported at the end of playground/models.py, so it belongs to the playground
app (app label "playground"). A row in the database, not a cache key: without
REDIS_URL the cache is each process's own memory, which the web server could
not read.
"""

from django.db import models


class Heartbeat(models.Model):
    SWEEPER = "sweeper"

    # One row per process kind ("sweeper"), however many of them run.
    name = models.CharField(max_length=40, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"
