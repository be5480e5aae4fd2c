"""Providers: the local renderer and the upstream adapters, one module each.

`for_row(provider)` gives the implementation of a Provider row by its kind;
`route(model_id)` the enabled rows that serve a model, in the order to try
(routing.py).
"""

from django.conf import settings
from django.utils.module_loading import import_string

from playground.models import Provider
from playground.providers.routing import route

__all__ = ["KINDS", "for_row", "provider_class", "route"]

# Each kind's module, imported when a row of that kind is first used: the
# renderer pulls in PyAV and numpy, which the web processes never need.
KINDS = {
    Provider.LOCAL: "playground.providers.local.LocalRenderer",
    Provider.JOBS: "playground.providers.jobs.JobsProvider",
    Provider.VIDEO_GENERATIONS: "playground.providers.video_generations.VideoGenerationsProvider",
    Provider.GENERATE_TASK: "playground.providers.generate_task.GenerateTaskProvider",
}
# Benchmark and fault drills only (instant.py).
INSTANT = {"instant": "playground.providers.instant.InstantProvider"}


def provider_class(kind: str) -> type:
    kinds = {**KINDS, **INSTANT} if settings.BENCH_INSTANT_PROVIDER else KINDS
    return import_string(kinds[kind])


def for_row(row: Provider):
    return provider_class(row.kind)(row)
