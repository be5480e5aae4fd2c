"""The OpenAI videos contract, driven by the official `openai` SDK against the live server.

Videos that must really render use small sizes (480p, 5 s) and the real
worker; the rest start from rows written here, so the errors, the list and
deletion need no rendering.
"""

import io
from datetime import timedelta
from decimal import Decimal

import av
import httpx
import openai
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from accounts import apikeys, ledger
from accounts.models import LedgerEntry
from playground import catalog, services
from playground.models import Generation, Upload

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


def png(color=(210, 40, 40), size=(320, 180)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def sdk(live_server, key: str, **options) -> openai.OpenAI:
    # No retries: an error must surface at once, as the exception class it maps to.
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, **options)


@pytest.fixture
def client(live_server, transactional_db, alice_key, settings):
    settings.OPENAI_POLL_AFTER_MS = 200  # poll() follows our pace; keep it quick here
    with sdk(live_server, alice_key) as client:
        yield client


def make_video(owner, *, state=Generation.SUCCESS, contract="openai", **input) -> Generation:
    """A kling/v2-1 video row as submit() leaves it, in `state`, without rendering it."""
    normalized = catalog.validate(
        "kling/v2-1", {"prompt": "a lighthouse at dusk", "resolution": "480p", **input}
    )
    now = timezone.now()
    finished = state in Generation.FINISHED
    return Generation.objects.create(
        owner=owner,
        team_id=owner.profile.team_id,
        contract=contract,
        model_id="kling/v2-1",
        model_name="kling/v2-1",
        input=normalized,
        state=state,
        progress=40 if state == Generation.GENERATING else 0,
        # Unfinished rows look owned by a live worker, so the sweeper leaves them be.
        lease_holder="" if finished else "elsewhere",
        lease_expires_at=None if finished else now + timedelta(hours=1),
        deadline_at=now + timedelta(hours=1),
        completed_at=now if finished else None,
    )


def first_frame_size(data: bytes) -> tuple[int, int, bool]:
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height, bool(container.streams.audio)


# -- end to end, rendered by the worker -----------------------------------------


def test_it_creates_and_polls_a_video_to_completion_and_downloads_it(client, worker, alice):
    video = client.videos.create_and_poll(
        model="kling/v2-1",
        prompt="A paper boat on a rainy street",
        size="854x480",
        seconds="5",
        extra_body={"generate_audio": True},  # a model field beside OpenAI's own
    )
    assert video.status == "completed", video.error
    assert (video.object, video.model, video.size, video.seconds) == (
        "video",
        "kling/v2-1",
        "854x480",
        "5",
    )
    assert video.progress == 100
    assert video.completed_at >= video.created_at
    assert video.expires_at is None and video.error is None
    assert video.prompt == "A paper boat on a rainy street"

    generation = Generation.objects.get(task_id=video.id)
    assert generation.contract == "openai"
    assert generation.input["aspect_ratio"] == "16:9"
    assert generation.input["resolution"] == "480p"
    assert generation.charged_credits > 0

    content = client.videos.download_content(video.id)
    assert content.response.headers["content-type"] == "video/mp4"
    assert first_frame_size(content.content) == (854, 480, True)

    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (854, 480)


def test_it_takes_a_json_body_as_older_sdks_and_curl_send_it(
    client, worker, live_server, alice_key
):
    response = httpx.post(
        f"{live_server.url}/v1/videos",
        json={"model": "kling/v2-1", "prompt": "A snail racing", "seconds": 5, "size": "480x480"},
        headers={"Authorization": f"Bearer {alice_key}"},
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["object"] == "video"
    assert created["status"] == "queued"
    assert (created["size"], created["seconds"]) == ("480x480", "5")
    assert response.headers["openai-poll-after-ms"] == "200"

    video = client.videos.poll(created["id"])
    assert video.status == "completed", video.error
    assert first_frame_size(client.videos.download_content(video.id).content)[:2] == (480, 480)


def test_an_input_reference_file_drives_an_image_to_video_model(client, worker):
    video = client.videos.create_and_poll(
        model="kling/v2-1-standard",
        prompt="The red wall slowly comes alive",
        size="1280x720",
        input_reference=("start.png", png(), "image/png"),
    )
    assert video.status == "completed", video.error
    generation = Generation.objects.get(task_id=video.id)
    upload = Upload.objects.get()
    assert generation.input["image_url"].endswith(upload.storage_name)
    assert generation.request["input_reference"] == {"file_id": upload.file_id}
    assert upload.used_at is not None
    with av.open(io.BytesIO(client.videos.download_content(video.id).content)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    centre = first[250:470, 400:880].reshape(-1, 3).mean(0)
    assert abs(centre - (210, 40, 40)).max() < 12  # the uploaded image, as the first frame


def test_it_remixes_a_completed_video_with_a_new_prompt(client, worker, alice):
    source = make_video(alice, aspect_ratio="1:1")
    account = alice.profile.team.wallet
    account.refresh_from_db()
    available = account.available()

    remix = client.videos.remix(source.task_id, prompt="The same, at night")
    assert remix.status == "queued"
    assert remix.remixed_from_video_id == source.task_id
    video = client.videos.poll(remix.id)

    assert video.status == "completed", video.error
    assert (video.model, video.size, video.seconds) == ("kling/v2-1", "480x480", "5")
    assert video.prompt == "The same, at night"
    assert video.remixed_from_video_id == source.task_id
    generation = Generation.objects.get(task_id=video.id)
    assert generation.input == {**source.input, "prompt": "The same, at night"}
    assert generation.charged_credits == catalog.quote("kling/v2-1", source.input).credits
    account.refresh_from_db()
    assert account.available() == available - generation.charged_credits


# -- without rendering --------------------------------------------------------------


def test_it_maps_every_internal_state_to_openai_status_words(client, alice):
    expected = {
        Generation.QUEUING: "queued",
        Generation.GENERATING: "in_progress",
        Generation.SUCCESS: "completed",
        Generation.FAIL: "failed",
    }
    for state, status in expected.items():
        row = make_video(alice, state=state)
        assert client.videos.retrieve(row.task_id).status == status


def test_it_reports_a_failure_as_an_error_object(client, alice):
    row = make_video(alice, state=Generation.FAIL)
    Generation.objects.filter(pk=row.pk).update(
        fail_code="CONTENT_VIOLATION", fail_msg="The prompt was blocked."
    )
    video = client.videos.retrieve(row.task_id)
    assert video.status == "failed"
    assert (video.error.code, video.error.message) == (
        "CONTENT_VIOLATION",
        "The prompt was blocked.",
    )


def test_it_asks_the_sdk_to_poll_at_its_own_pace_only_while_unfinished(client, alice):
    running = client.videos.with_raw_response.retrieve(
        make_video(alice, state=Generation.GENERATING).task_id
    )
    assert running.headers["openai-poll-after-ms"] == "200"
    assert running.parse().progress == 40
    done = client.videos.with_raw_response.retrieve(make_video(alice).task_id)
    assert "openai-poll-after-ms" not in done.headers


def test_it_lists_the_teams_openai_videos_by_cursor(client, alice, bob, carol):
    mine = [make_video(alice) for _ in range(3)] + [make_video(bob) for _ in range(2)]
    make_video(alice, contract="jobs")  # made through another contract
    make_video(carol)  # another team's
    newest_first = [row.task_id for row in reversed(mine)]

    page = client.videos.list(limit=2)
    assert [video.id for video in page.data] == newest_first[:2]
    assert page.has_more is True
    assert page.last_id == newest_first[1]

    assert [video.id for video in client.videos.list(limit=2)] == newest_first  # auto-paging
    oldest_first = [video.id for video in client.videos.list(limit=3, order="asc")]
    assert oldest_first == newest_first[::-1]
    last = client.videos.list(limit=2, after=newest_first[3])
    assert ([v.id for v in last.data], last.has_more) == ([newest_first[4]], False)


def test_it_deletes_a_finished_video_and_its_files_but_not_its_charge(client, alice):
    row = make_video(alice)
    ledger.hold(alice.profile.team.wallet, Decimal("1.50"), row.hold_reference)
    ledger.capture(row.hold_reference)
    folder = "generations/delete-test"
    video_name = default_storage.save(f"{folder}/{row.task_id}.mp4", ContentFile(b"mp4"))
    poster_name = default_storage.save(f"{folder}/{row.task_id}.jpg", ContentFile(b"jpg"))
    Generation.objects.filter(pk=row.pk).update(video=video_name, poster=poster_name)
    entries = list(LedgerEntry.objects.values_list("pk", "kind", "amount"))

    deleted = client.videos.delete(row.task_id)

    assert (deleted.id, deleted.object, deleted.deleted) == (row.task_id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(row.task_id)
    assert not default_storage.exists(video_name)
    assert not default_storage.exists(poster_name)
    assert not default_storage.exists(folder)
    assert list(LedgerEntry.objects.values_list("pk", "kind", "amount")) == entries
    # The row stays as the record of the charge, without its files.
    row.refresh_from_db()
    assert row.deleted_at is not None and not row.video and not row.poster
    assert row.events.filter(note__startswith="deleted").count() == 1
    assert row.task_id not in [video.id for video in client.videos.list().data]
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(row.task_id)


def test_it_refuses_to_delete_an_unfinished_video(client, alice):
    row = make_video(alice, state=Generation.GENERATING)
    with pytest.raises(openai.BadRequestError, match="in_progress"):
        client.videos.delete(row.task_id)
    assert Generation.objects.filter(pk=row.pk).exists()


def test_content_of_an_unfinished_video_is_a_404_not_an_error_body(client, alice):
    row = make_video(alice, state=Generation.GENERATING)
    with pytest.raises(openai.NotFoundError, match="not ready") as caught:
        client.videos.download_content(row.task_id)
    assert caught.value.response.headers["content-type"] == "application/json"


def test_it_takes_an_input_reference_by_file_id_in_json(client, live_server, alice, alice_key):
    from playground import uploads

    upload = uploads.store_upload(alice, io.BytesIO(png()), original_name="start.png")
    response = httpx.post(
        f"{live_server.url}/v1/videos",
        json={
            "model": "kling/v2-1-standard",
            "prompt": "A red wall",
            "input_reference": {"file_id": upload.file_id},
        },
        headers={"Authorization": f"Bearer {alice_key}"},
    )
    assert response.status_code == 200, response.text
    generation = Generation.objects.get(task_id=response.json()["id"])
    services.cancel(generation)  # nothing here needs it rendered
    assert generation.input["image_url"] == f"{live_server.url}/media/{upload.storage_name}"


# -- errors, as the SDK's own exception classes ----------------------------------------


def test_a_bad_key_is_an_authentication_error(live_server, transactional_db):
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(live_server, "rg-not-a-key").videos.list()
    assert caught.value.code == "invalid_api_key"


def test_another_teams_video_is_not_found(client, carol):
    row = make_video(carol)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(row.task_id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(row.task_id)
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(row.task_id)
    assert Generation.objects.filter(pk=row.pk).exists()


def test_a_size_the_model_cannot_make_is_a_bad_request_naming_those_it_can(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="A fox", size="1792x1024")
    error = caught.value
    assert error.param == "size"
    assert "kling-v2-6 cannot make 1792x1024" in error.message
    assert "1280x720, 720x1280, 720x720, 1920x1080, 1080x1920 or 1080x1080" in error.message
    assert not Generation.objects.exists()


def test_a_size_sets_the_fields_it_needs_and_must_agree_with_those_sent(client):
    with pytest.raises(openai.BadRequestError, match="With mode=std, kling-v2-6 makes only"):
        client.videos.create(prompt="A fox", size="1920x1080", extra_body={"mode": "std"})


def test_a_bad_model_field_is_a_bad_request_named_as_sent(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="A fox", seconds="4")  # kling-v2-6 makes 5 or 10
    assert caught.value.param == "seconds"
    assert "seconds: Must be one of 5, 10" in caught.value.message

    with pytest.raises(openai.BadRequestError, match="Unknown field 'cfg'") as caught:
        client.videos.create(prompt="A fox", extra_body={"cfg": "0.5"})
    assert caught.value.param == "cfg"
    assert not Generation.objects.exists()


def test_an_input_reference_needs_a_model_that_takes_an_image(client):
    with pytest.raises(openai.BadRequestError, match="kling/v2-1 takes no image") as caught:
        client.videos.create(
            model="kling/v2-1", prompt="A fox", input_reference=("a.png", png(), "image/png")
        )
    assert caught.value.param == "input_reference"
    assert not Upload.objects.exists()


def test_remixing_an_unfinished_video_is_a_bad_request(client, alice):
    row = make_video(alice, state=Generation.GENERATING)
    with pytest.raises(openai.BadRequestError, match="only completed videos"):
        client.videos.remix(row.task_id, prompt="Again")


def test_not_enough_credits_is_402_insufficient_quota(live_server, transactional_db, bob):
    _, key = apikeys.issue(bob, "no credits")
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(live_server, key).videos.create(prompt="A fox")
    assert caught.value.status_code == 402
    assert caught.value.code == "insufficient_quota"
    assert caught.value.type == "insufficient_quota"
    assert not Generation.objects.exists()


def test_too_many_unfinished_videos_is_a_rate_limit_error(client, alice, settings):
    settings.API_MAX_UNFINISHED_TASKS = 1
    client.videos.create(prompt="A fox")
    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.create(prompt="A fox")
    assert caught.value.code == "too_many_tasks"
    assert "Too many unfinished tasks: 1 of 1 allowed" in caught.value.message
    assert caught.value.response.headers["retry-after"] == "5"
    assert Generation.objects.count() == 1


def test_too_many_requests_is_a_rate_limit_error(client, settings):
    settings.API_REQUESTS_PER_MINUTE = 1
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(3):  # a new minute may start between two of them
            client.videos.list()
    assert caught.value.response.headers["retry-after"]
