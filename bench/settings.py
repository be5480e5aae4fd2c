"""A real install's settings plus what only the benchmark and the fault drills use.

DJANGO_SETTINGS_MODULE=bench.settings (set by bench/stack.py for `make bench`,
and by tests/processes.py for the processes the tests start) adds:

- the reference views (bench/views.py) at /bench/ceiling, /bench/floor/read
  and /bench/floor/write, before the product's routes (bench/urls.py);
- the `instant` provider kind (bench/instant.py), which succeeds at once
  with a tiny pre-made MP4.

An install run with config.settings has neither.
"""

from config.settings import *  # noqa: F403
from config.settings import PROVIDER_KINDS_EXTRA

ROOT_URLCONF = "bench.urls"
PROVIDER_KINDS_EXTRA = {**PROVIDER_KINDS_EXTRA, "instant": "bench.instant.InstantProvider"}
