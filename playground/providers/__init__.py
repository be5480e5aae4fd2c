"""Providers: the local renderer and the upstream adapters, one module each.

`for_row(provider)` gives the implementation of a Provider row by its kind;
`route(model_id)` the enabled rows that serve a model, in the order to try
(routing.py).
"""

from django.conf import settings
from django.utils.module_loading import import_string

from playground.models import Provider
from playground.providers.base import CheckFailed
from playground.providers.routing import route

__all__ = [
    "KINDS",
    "check",
    "check_credentials_readable",
    "for_row",
    "provider_class",
    "renders",
    "render_kinds",
    "renders_first",
    "route",
]

# Each kind's module, imported when a row of that kind is first used: the
# renderer pulls in PyAV and numpy, which the web processes never need.
KINDS = {
    Provider.LOCAL: "playground.providers.local.LocalRenderer",
    Provider.JOBS: "playground.providers.jobs.JobsProvider",
    Provider.VIDEO_GENERATIONS: "playground.providers.video_generations.VideoGenerationsProvider",
    Provider.GENERATE_TASK: "playground.providers.generate_task.GenerateTaskProvider",
    Provider.KIE_VEO: "playground.providers.kie_veo.KieVeoProvider",
    Provider.KLING: "playground.providers.kling.KlingProvider",
    Provider.GOOGLE_VEO: "playground.providers.google_veo.GoogleVeoProvider",
    Provider.FAL: "playground.providers.fal.FalProvider",
    Provider.REPLICATE: "playground.providers.replicate.ReplicateProvider",
    Provider.OPENAI_VIDEOS: "playground.providers.openai_videos.OpenAIVideosProvider",
}


def provider_class(kind: str) -> type:
    # Kinds a settings module adds (PROVIDER_KINDS_EXTRA), e.g. the benchmark's.
    return import_string({**KINDS, **settings.PROVIDER_KINDS_EXTRA}[kind])


def renders(row: Provider) -> bool:
    """Whether `row` renders on this machine: its runs go to the render cluster."""
    return provider_class(row.kind).renders


def render_kinds() -> list[str]:
    """The kinds that render on this machine: their queued generations are the render queue's."""
    kinds = {**KINDS, **settings.PROVIDER_KINDS_EXTRA}
    return [kind for kind in kinds if provider_class(kind).renders]


def renders_first(model_id: str) -> bool:
    """Whether the first provider a run of `model_id` tries renders on this machine."""
    rows = route(model_id)
    return bool(rows) and renders(rows[0])


def for_row(row: Provider):
    return provider_class(row.kind)(row)


def check(row: Provider) -> tuple[bool, str]:
    """Test a provider's connection with one cheap authenticated call: (worked, what it said).

    The same call for the admin's Test connection button and `manage.py
    provider test`.
    """
    provider = for_row(row)
    if not getattr(provider, "asynchronous", False):
        return True, f"{row.name} runs on this machine; there is nothing to connect to."
    try:
        return True, provider.check()
    except CheckFailed as exc:
        return False, str(exc)


def check_credentials_readable() -> None:
    """Raise SecretsUnreadable (naming PROVIDER_SECRETS_KEY) when stored credentials can't be read.

    The processes that start Reelgate call it first: without the right key,
    every upstream generation would fail later, one by one.
    """
    for _ in Provider.objects.values_list("credentials", flat=True).iterator():
        pass
