"""The video generations adapter (/api/v1/video/generations): a flat body, resultUrls in data.

The rules all adapters share are tested in test_jobs_upstream.py for every contract.
"""

from decimal import Decimal

import av
import pytest
from django.core.files.storage import default_storage

from accounts.models import CreditAccount
from playground import services
from playground.models import Generation
from playground.providers.base import Succeeded
from tests.contract import fakes
from tests.contract.fakes import VIDEO_GENERATIONS, Step, exchange

pytestmark = pytest.mark.django_db


def test_it_sends_the_input_flat_beside_the_upstream_model(alice, tmp_path):
    done = exchange(alice, VIDEO_GENERATIONS, tmp_path, upstream_model="kling-video/kling-v2-6")

    assert done.submit.header("Authorization") == f"Bearer {fakes.API_KEY}"
    assert done.submit.json() == {
        "model": "kling-video/kling-v2-6",
        "prompt": "A girl dancing on the beach at sunset",
        "mode": "std",
        "duration": "5",
        "aspect_ratio": "16:9",
        "sound": False,
        "voice": False,
    }
    (poll,) = done.fake.polls
    assert poll.query == {"task_id": [done.generation.upstream_ref]}


def test_no_input_field_can_replace_the_model(alice, tmp_path):
    with fakes.FakeUpstream(VIDEO_GENERATIONS) as fake:
        generation = fakes.new_generation(alice, VIDEO_GENERATIONS)
        generation.input = {**generation.input, "model": "something-pricier"}
        fakes.submitted(fakes.adapter(fake.provider_row()), generation, tmp_path)
    assert fake.submits[0].json()["model"] == "kling-v2-6"


def test_it_reads_result_urls_from_the_status_itself(alice, tmp_path):
    done = exchange(alice, VIDEO_GENERATIONS, tmp_path, Step("success"))

    # This contract's status has no thumbnail: the engine makes the poster.
    assert done.outcomes == [
        Succeeded(
            video_url=done.fake.url + fakes.VIDEO_PATH,
            note=f"upstream task {done.generation.upstream_ref}",
        )
    ]


def test_it_makes_a_video_upstream_end_to_end(worker, alice):
    with fakes.FakeUpstream(VIDEO_GENERATIONS) as fake:
        fake.script(Step("running"), Step("success"))
        row = fake.provider_row(priority=10)
        generation = services.submit(
            user=alice, model=VIDEO_GENERATIONS.model, input=VIDEO_GENERATIONS.input
        )
        fakes.finish(generation)

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider_id == row.pk
    assert generation.charged_credits == generation.quoted_credits == Decimal("1.59")
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        assert container.streams.video[0].codec_context.width == 64
    assert default_storage.exists(generation.poster.name)  # made from the first frame
