"""Every catalog model through every provider kind that offers it, to a stored video.

Each kind's own file tests its contract in detail; this one walks the whole
matrix once, against each kind's loopback server: submit, poll, and copy the
result into our storage (with the provider's key where its result URL needs
it). A kind that does not offer a model refuses it before sending anything.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial

import pytest
from PIL import Image

from accounts import ledger
from playground import providers, results, services
from playground.models import Provider
from playground.providers.base import Running, SubmitRefused, Succeeded
from tests.contract.fakes import (
    GENERATE_TASK,
    JOBS,
    VIDEO_GENERATIONS,
    FakeUpstream,
    keep_lease,
    sample_mp4,
)
from tests.contract.fal_server import FalServer
from tests.contract.google_veo_server import VeoServer
from tests.contract.kie_veo_server import KieVeoServer
from tests.contract.kling_server import KlingServer
from tests.contract.openai_videos_server import OpenAIVideosServer
from tests.contract.replicate_server import ReplicateServer
from tests.httpservers import LoopbackServer

pytestmark = pytest.mark.django_db

PROMPT = "A paper boat drifting down a rain-soaked street at night"
# One input per catalog model that every kind offering the model can make as asked.
INPUTS = {
    "kling/v2-1": {"prompt": PROMPT, "aspect_ratio": "16:9", "resolution": "720p"},
    "kling/v2-1-standard": {"prompt": PROMPT, "image_url": "{image}"},
    "kling-2-1": {"mode": "pro-image-to-video", "prompt": PROMPT, "image_urls": ["{image}"]},
    "kling-v2-6": {"prompt": PROMPT, "mode": "pro", "aspect_ratio": "9:16", "sound": True},
    "kling-v3": {"prompt": PROMPT, "image": "{image}", "mode": "pro", "duration": 5},
    "kling-motion-control": {
        "prompt": PROMPT,
        "image": "{image}",
        "motion_video": "{video}",
        "duration": 5,
        "resolution": "1080p",
        "version": "3.0",
    },
    "google/veo-3-1": {"prompt": PROMPT, "aspect_ratio": "16:9", "duration": 8},
}
ALL = set(INPUTS)
KLING_MODELS = ALL - {"google/veo-3-1"}
# The models each kind makes; the rest it refuses, unsent.
OFFERS = {
    Provider.JOBS: ALL,
    Provider.VIDEO_GENERATIONS: ALL,
    Provider.GENERATE_TASK: ALL,
    Provider.OPENAI_VIDEOS: ALL,
    Provider.KLING: KLING_MODELS,
    Provider.FAL: ALL - {"kling/v2-1"},
    Provider.REPLICATE: ALL - {"kling/v2-1"},
    "google_veo gemini": {"google/veo-3-1"},
    "google_veo vertex": {"google/veo-3-1"},
    Provider.KIE_VEO: {"google/veo-3-1"},
}


RowMaker = Callable[..., Provider]


@contextmanager
def kie_style(contract, model_id: str) -> Iterator[RowMaker]:
    # generateTask names the model in its paths: a fake serves the one it is given.
    with FakeUpstream(contract, model=model_id) as fake:
        yield fake.provider_row


@contextmanager
def served(
    server_class, model_id: str, row: str = "provider_row"
) -> Iterator[Callable[[], Provider]]:
    with server_class() as server:
        yield getattr(server, row)


SERVERS = {
    Provider.JOBS: partial(kie_style, JOBS),
    Provider.VIDEO_GENERATIONS: partial(kie_style, VIDEO_GENERATIONS),
    Provider.GENERATE_TASK: partial(kie_style, GENERATE_TASK),
    Provider.OPENAI_VIDEOS: partial(served, OpenAIVideosServer),
    Provider.KLING: partial(served, KlingServer),
    Provider.FAL: partial(served, FalServer),
    Provider.REPLICATE: partial(served, ReplicateServer),
    "google_veo gemini": partial(served, VeoServer, row="gemini_row"),
    "google_veo vertex": partial(served, VeoServer, row="vertex_row"),
    Provider.KIE_VEO: partial(served, KieVeoServer),
}


@pytest.fixture
def media(settings):
    """A start image and a motion video on loopback, as a user's URLs would be."""
    settings.ALLOW_PRIVATE_URLS = True
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, format="PNG")
    with LoopbackServer() as server:
        server.route("/start.png", body=buffer.getvalue(), headers={"Content-Type": "image/png"})
        server.route("/motion.mp4", body=sample_mp4(), headers={"Content-Type": "video/mp4"})
        yield {"image": server.url + "/start.png", "video": server.url + "/motion.mp4"}


def concrete(value, media):
    if isinstance(value, str) and value.startswith("{"):
        return media[value.strip("{}")]
    if isinstance(value, list):
        return [concrete(item, media) for item in value]
    return value


@pytest.mark.parametrize("kind", list(SERVERS))
def test_each_model_a_kind_offers_is_made_and_stored(kind, alice, media, tmp_path):
    ledger.grant(alice.profile.team.wallet, Decimal("5000.00"), note="the matrix")
    made, refused = set(), {}
    for model_id, template in INPUTS.items():
        input = {name: concrete(value, media) for name, value in template.items()}
        generation = services.submit(user=alice, model=model_id, input=input)
        with SERVERS[kind](model_id) as new_row:
            provider = providers.for_row(new_row(name=f"{kind} for {model_id}"))
            try:
                outcome = provider.start(generation, tmp_path, keep_lease)
            except SubmitRefused as exc:
                refused[model_id] = str(exc)
                continue
            assert isinstance(outcome, Running), (model_id, outcome)
            generation.upstream_ref = outcome.reference
            generation.upstream_state = outcome.state or {}
            workdir = tmp_path / model_id.replace("/", "_")
            workdir.mkdir()
            finished = provider.poll(generation, workdir)
            assert isinstance(finished, Succeeded), (model_id, finished)
            stored = results.store(generation, finished, workdir)
        assert (stored["width"], stored["height"]) == (64, 64), model_id
        made.add(model_id)

    assert made == OFFERS[kind], refused
    for model_id, reason in refused.items():
        assert "nothing was sent" in reason or "does not" in reason, (model_id, reason)
