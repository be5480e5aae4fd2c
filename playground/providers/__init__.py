"""Providers: the local renderer and the upstream adapters, one module each.

`for_row(provider)` gives the implementation of a Provider row by its kind;
`route(model_id)` the enabled rows that serve a model, in the order to try.
"""

from django.conf import settings

from config.prepared import PreparedQuery
from playground.models import Provider

# Read on every submit; the table is small (config/prepared.py).
ENABLED = PreparedQuery(lambda: Provider.objects.filter(enabled=True))


def registry() -> dict:
    # Imported here: the renderer pulls in PyAV and numpy, which the web
    # processes never need.
    from playground.providers.generate_task import GenerateTaskProvider
    from playground.providers.jobs import JobsProvider
    from playground.providers.local import LocalRenderer
    from playground.providers.video_generations import VideoGenerationsProvider

    kinds = (LocalRenderer, JobsProvider, VideoGenerationsProvider, GenerateTaskProvider)
    if settings.BENCH_INSTANT_PROVIDER:  # benchmark and fault drills only (instant.py)
        from playground.providers.instant import InstantProvider

        kinds += (InstantProvider,)
    return {provider.kind: provider for provider in kinds}


def for_row(row: Provider):
    return registry()[row.kind](row)


def route(model_id: str) -> list[Provider]:
    return [row for row in ENABLED.all() if row.serves(model_id)]
