"""Generations end to end: a real django-q2 cluster and sweeper, the local renderer."""

import os
import signal
from decimal import Decimal

import av
import pytest
from django.core.files.storage import default_storage

from accounts.models import CreditAccount, LedgerEntry
from playground import services
from playground.models import Generation
from tests.httpservers import LoopbackServer, Reply
from tests.processes import wait_for

PROMPT = "A paper boat drifting down a rainy street, macro lens"


def finished(generation: Generation, timeout: float = 60) -> Generation:
    def done():
        generation.refresh_from_db()
        return generation.is_finished

    wait_for(done, timeout=timeout, message=f"{generation.task_id} to finish")
    return generation


def balance(user) -> tuple[Decimal, Decimal]:
    account = CreditAccount.objects.get(team__members__user=user)
    return account.balance, account.held


def test_it_renders_a_preview_and_charges_the_quote(worker, alice):
    generation = services.submit(
        user=alice,
        model="kling/v2-1",
        input={"prompt": PROMPT, "resolution": "480p", "duration": 5, "generate_audio": True},
    )
    finished(generation)
    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert (generation.width, generation.height) == (854, 480)
    assert generation.progress == 100
    assert generation.charged_credits == generation.quoted_credits == Decimal("55.00")
    assert balance(alice) == (Decimal("445.00"), Decimal("0.00"))

    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (854, 480)
        assert video.codec_context.name == "h264"
        assert abs(float(video.duration * video.time_base) - 5) <= 0.1
        assert len(container.streams.audio) == 1
    assert default_storage.exists(generation.poster.name)
    assert generation.task_id not in generation.video.name.split("/")[1]  # unguessable folder
    states = list(generation.events.values_list("to_state", flat=True))
    assert states == ["queuing", "generating", "success"]


def test_it_adds_no_audio_track_unless_asked(worker, alice):
    generation = services.submit(
        user=alice,
        model="kling-v2-6",
        input={"prompt": PROMPT, "aspect_ratio": "9:16", "mode": "std", "duration": "5"},
    )
    finished(generation)
    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.height > generation.width
    assert generation.has_audio is False
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        assert len(container.streams.audio) == 0


def test_a_blocked_term_fails_with_content_violation_and_charges_nothing(worker, alice):
    generation = services.submit(
        user=alice, model="kling/v2-1", input={"prompt": "a forbiddenword at dawn"}
    )
    finished(generation)
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "CONTENT_VIOLATION")
    assert "forbiddenword" in generation.fail_msg
    assert generation.charged_credits == Decimal("0.00")
    assert balance(alice) == (Decimal("500.00"), Decimal("0.00"))


def test_an_unusable_image_url_fails_with_invalid_image_url(worker, alice):
    with LoopbackServer() as server:
        server.route(
            "/cat.png",
            Reply(body=b"<html>not an image</html>", headers={"Content-Type": "image/png"}),
        )
        generation = services.submit(
            user=alice,
            model="kling/v2-1-standard",
            input={"prompt": PROMPT, "image_url": server.url + "/cat.png"},
        )
        finished(generation)
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "INVALID_IMAGE_URL")
    assert "cat.png" in generation.fail_msg
    assert balance(alice) == (Decimal("500.00"), Decimal("0.00"))


def test_a_worker_killed_mid_render_is_recovered_and_charged_once(worker, alice):
    generation = services.submit(
        user=alice,
        model="kling/v2-1",
        input={"prompt": PROMPT, "resolution": "720p", "duration": 10},
    )

    def rendering():
        generation.refresh_from_db()
        return generation.state == Generation.GENERATING and generation.progress > 0

    wait_for(rendering, timeout=60, interval=0.05, message="the render to start")
    victim = int(generation.lease_holder.rsplit(":", 1)[1])
    os.kill(victim, signal.SIGKILL)

    finished(generation, timeout=120)
    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.attempts == 2
    captures = LedgerEntry.objects.filter(
        reference=generation.hold_reference, kind=LedgerEntry.CAPTURE
    )
    assert captures.count() == 1
    assert balance(alice) == (Decimal("445.00"), Decimal("0.00"))
    notes = " ".join(generation.events.values_list("note", flat=True))
    assert "lease expired" in notes


@pytest.mark.django_db
def test_the_sweeper_times_out_an_overdue_generation(alice, local_renderer):
    from django.utils import timezone

    from playground import sweeper

    generation = services.submit(user=alice, model="kling/v2-1", input={"prompt": PROMPT})
    Generation.objects.filter(pk=generation.pk).update(
        state=Generation.GENERATING,
        upstream_ref="up-123",
        deadline_at=timezone.now() - timezone.timedelta(seconds=1),
    )
    assert sweeper.sweep()["timed_out"] == 1
    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "TIMEOUT")
    assert "up-123" in generation.fail_msg  # kept for the operator
    assert balance(alice) == (Decimal("500.00"), Decimal("0.00"))


@pytest.mark.django_db
def test_the_sweeper_resends_a_generation_whose_hand_off_to_the_queue_was_lost(
    alice, local_renderer, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from playground import sweeper

    # The commit's hand-off to the queue never runs, as when the process dies
    # right after the commit.
    with django_capture_on_commit_callbacks(execute=False) as hand_offs:
        generation = services.submit(user=alice, model="kling/v2-1", input={"prompt": PROMPT})
    assert len(hand_offs) == 2  # the hand-off to the queue, and the count of /metrics
    assert generation.state == Generation.QUEUING
    assert sweeper.sweep()["redispatched"] == 0  # not due yet

    Generation.objects.filter(pk=generation.pk).update(
        next_poll_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert sweeper.sweep()["redispatched"] == 1
    generation.refresh_from_db()
    assert generation.state == Generation.QUEUING
    assert generation.next_poll_at > timezone.now()  # sent once, not on every sweep
    assert sweeper.sweep()["redispatched"] == 0
    notes = list(generation.events.values_list("note", flat=True))
    assert notes.count("sent to the workers again") == 1
