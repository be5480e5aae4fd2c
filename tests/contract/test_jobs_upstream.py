"""The jobs adapter (createTask / recordInfo), and the rules every upstream adapter shares.

The shared rules live in playground/providers/upstream.py, so they are tested
here once, as tables run against all three contracts; each contract's own
file tests its request and answer shapes.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import av
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from accounts.models import CreditAccount
from playground import services, tasks
from playground.models import Generation, Provider
from playground.providers.base import Failed, PollError, Running, SubmitRefused, Succeeded
from playground.providers.generate_task import GenerateTaskProvider
from playground.providers.jobs import JobsProvider
from playground.providers.upstream import HIDDEN_KEY, read_progress, retry_after_seconds
from playground.providers.video_generations import VideoGenerationsProvider
from tests.contract.fakes import (
    API_KEY,
    CONTRACTS,
    JOBS,
    MALFORMED,
    THUMBNAIL_PATH,
    VIDEO_GENERATIONS,
    VIDEO_PATH,
    FakeUpstream,
    Step,
    adapter,
    envelope,
    exchange,
    finish,
    keep_lease,
    new_generation,
    submitted,
)
from tests.httpservers import LoopbackServer, Reply

pytestmark = pytest.mark.django_db
each_contract = pytest.mark.parametrize("contract", CONTRACTS, ids=str)
# Adapters wait this long in tests that make an upstream too slow (its
# answer takes 2 s). 0.3 s also timed out the next, prompt answer when the
# machine was busy running the rest of the suite.
SHORT_TIMEOUT = 1.0


# The jobs contract's own shapes


def test_it_sends_model_and_input_with_the_bearer_key(alice, tmp_path):
    done = exchange(alice, JOBS, tmp_path, upstream_model="kling-v2.1-pro")

    assert done.submit.header("Authorization") == f"Bearer {API_KEY}"
    assert done.submit.json() == {"model": "kling-v2.1-pro", "input": done.generation.input}
    (poll,) = done.fake.polls
    assert poll.query == {"taskId": [done.generation.upstream_ref]}
    assert poll.header("Authorization") == f"Bearer {API_KEY}"


def test_it_reads_progress_and_the_result_json_string(alice, tmp_path):
    script = Step("queued"), Step("running", progress=40), Step("success")
    done = exchange(alice, JOBS, tmp_path, *script, polls=3)

    reference, url = done.generation.upstream_ref, done.fake.url
    assert done.outcomes == [
        Running(reference, progress=None),  # the engine estimates from elapsed time
        Running(reference, progress=40),
        Succeeded(
            video_url=url + VIDEO_PATH,
            poster_url=url + THUMBNAIL_PATH,
            note=f"upstream task {reference}",
        ),
    ]


@pytest.mark.parametrize(
    "reported, expected",
    [(40, 40), (99.5, 99), ("55", 55), ("70%", 70), (0, 0), (100, 100)]
    + [(150, None), (-1, None), ("soon", None), (True, None), (None, None), ([], None)],
)
def test_it_keeps_only_a_sensible_progress_figure(reported, expected):
    assert read_progress(reported) == expected


# Every contract: submit and poll through to success


def test_the_registry_maps_each_upstream_kind_to_its_adapter():
    expected = {
        Provider.JOBS: JobsProvider,
        Provider.VIDEO_GENERATIONS: VideoGenerationsProvider,
        Provider.GENERATE_TASK: GenerateTaskProvider,
    }
    for kind, cls in expected.items():
        row = Provider.objects.create(name=kind, kind=kind, base_url="http://127.0.0.1:9")
        provider = adapter(row)
        assert type(provider) is cls
        assert provider.asynchronous is True


@each_contract
def test_it_polls_through_the_contracts_states_to_success(alice, tmp_path, contract):
    script = Step("queued"), Step("running"), Step("success")
    done = exchange(alice, contract, tmp_path, *script, polls=3)

    *running, success = done.outcomes
    assert running == [Running(done.generation.upstream_ref)] * 2
    assert isinstance(success, Succeeded)
    assert success.video_url == done.fake.url + VIDEO_PATH
    assert len(done.fake.submits) == 1
    assert {r.header("Authorization") for r in done.fake.server.requests} == {f"Bearer {API_KEY}"}


# Submits: refused (nothing created, the next provider may try)

REFUSALS = [
    pytest.param(envelope(401, "Invalid API key"), "Invalid API key", None, id="401"),
    pytest.param(envelope(402, "Insufficient credits"), "Insufficient credits", None, id="402"),
    pytest.param(
        envelope(429, "Too many requests", headers={"Retry-After": "7"}),
        "Too many requests",
        7.0,
        id="429-retry-after",
    ),
    pytest.param(envelope(505, "Feature disabled"), "Feature disabled", None, id="505"),
    pytest.param(envelope(400, "prompt is required"), "prompt is required", None, id="400"),
    pytest.param(
        envelope(422, "duration must be 5 or 10"), "duration must be 5 or 10", None, id="422"
    ),
    pytest.param(
        envelope(402, "Insufficient credits", status=200), "code 402", None, id="402-in-a-200"
    ),
    pytest.param(envelope(455, "Maintenance", status=200), "Maintenance", None, id="455-in-a-200"),
]


@each_contract
@pytest.mark.parametrize("reply, reason, retry_after", REFUSALS)
def test_a_submit_the_upstream_refused_lets_the_next_provider_try(
    alice, tmp_path, contract, reply, reason, retry_after
):
    with FakeUpstream(contract) as fake:
        fake.on_submit(reply)
        provider = adapter(fake.provider_row())
        with pytest.raises(SubmitRefused) as refused:
            provider.start(new_generation(alice, contract), tmp_path, keep_lease)

    assert reason in str(refused.value)
    assert refused.value.retry_after == retry_after
    assert len(fake.submits) == 1


@each_contract
def test_a_wrong_key_is_refused_by_the_fake_and_by_the_adapter(alice, tmp_path, contract):
    with FakeUpstream(contract) as fake:
        provider = adapter(fake.provider_row(credentials={"api_key": "sk-someone-elses"}))
        with pytest.raises(SubmitRefused, match="code 401"):
            provider.start(new_generation(alice, contract), tmp_path, keep_lease)
    assert fake.tasks == {}


@pytest.fixture
def closed_port() -> int:
    with LoopbackServer() as server:
        port = server.port
    return port


@each_contract
@pytest.mark.parametrize(
    "base_url, reason",
    [
        ("http://127.0.0.1:{port}", "Connection refused"),
        ("http://upstream.invalid", "could not resolve host"),
        ("ftp://127.0.0.1:{port}", "only http and https"),
    ],
    ids=["connection-refused", "dns-failure", "bad-base-url"],
)
def test_an_upstream_that_cannot_be_reached_is_refused(
    alice, tmp_path, closed_port, contract, base_url, reason
):
    row = Provider.objects.create(
        name="gone",
        kind=contract.kind,
        base_url=base_url.format(port=closed_port),
        credentials={"api_key": API_KEY},
    )
    with pytest.raises(SubmitRefused, match=reason):
        adapter(row).start(new_generation(alice, contract), tmp_path, keep_lease)


@each_contract
def test_a_worker_that_lost_its_lease_submits_nothing(alice, tmp_path, contract):
    with FakeUpstream(contract) as fake:
        provider = adapter(fake.provider_row())
        with pytest.raises(SubmitRefused, match="lost its lease"):
            provider.start(new_generation(alice, contract), tmp_path, lambda percent: False)
    assert fake.server.requests == []


# Submits: ambiguous (the upstream may have the task; never send it twice)

LOST_ANSWERS = [
    pytest.param(Reply(delay=2), "timed out", id="read-timeout"),
    pytest.param(Reply(abort=True), "disconnected", id="closed-without-answer"),
    pytest.param(
        Reply.stream([b'{"code": 200, "data": {"ta'], content_length=400),
        "answer was lost",
        id="reset-mid-answer",
    ),
    pytest.param(MALFORMED, "not JSON", id="malformed-json"),
    # A 5xx may come after the task was made: it is not taken for a refusal.
    pytest.param(envelope(500, "Internal error"), "code 500: Internal error", id="500"),
    pytest.param(
        Reply(status=503, body="<html>upstream down</html>", headers={"Retry-After": "30"}),
        "code 503",
        id="503-html",
    ),
    pytest.param(
        envelope(500, "Internal error", status=200), "code 500: Internal error", id="500-in-a-200"
    ),
    pytest.param(
        Reply.json({"code": 200, "msg": "success", "data": {}}),
        "without a usable taskId",
        id="no-id",
    ),
    pytest.param(Reply.json({"code": 200, "msg": "success", "data": None}), "taskId", id="no-data"),
    pytest.param(
        Reply.json({"code": 200, "data": {"taskId": "x" * 201}}), "taskId", id="oversized-id"
    ),
]


@each_contract
@pytest.mark.parametrize("reply, reason", LOST_ANSWERS)
def test_a_submit_whose_answer_was_lost_is_ambiguous_and_not_retried(
    alice, tmp_path, contract, reply, reason
):
    with FakeUpstream(contract) as fake:
        fake.on_submit(reply)
        provider = adapter(fake.provider_row())
        provider.timeout = SHORT_TIMEOUT
        outcome = provider.start(new_generation(alice, contract), tmp_path, keep_lease)

    assert isinstance(outcome, Failed)
    assert outcome.code == "UPSTREAM_AMBIGUOUS"
    assert reason in outcome.message
    assert "not submitted again" in outcome.message
    assert len(fake.submits) == 1


# Polls: transient errors are bounded retries, honouring Retry-After

TRANSIENT = [
    pytest.param(envelope(500, "Internal error"), None, id="500"),
    pytest.param(Reply(status=502, body="<html>Bad gateway</html>"), None, id="502-html"),
    pytest.param(envelope(503, "Busy", headers={"Retry-After": "12"}), 12.0, id="503-retry"),
    pytest.param(envelope(429, "Slow down", headers={"Retry-After": "7"}), 7.0, id="429-retry"),
    pytest.param(envelope(429, "Slow down", status=200), None, id="429-in-a-200"),
    pytest.param(envelope(401, "Invalid API key"), None, id="401"),
    pytest.param(MALFORMED, None, id="malformed-json"),
    pytest.param(Reply.json({"code": 200, "data": {"taskId": "t"}}), None, id="no-state"),
    pytest.param(Reply(delay=2), None, id="timeout"),
    pytest.param(Reply(abort=True), None, id="connection-closed"),
]


@each_contract
@pytest.mark.parametrize("reply, retry_after", TRANSIENT)
def test_a_transient_poll_error_is_retried_then_succeeds(
    alice, tmp_path, contract, reply, retry_after
):
    with FakeUpstream(contract) as fake:
        fake.script(reply, Step("success"))
        provider = adapter(fake.provider_row())
        provider.timeout = SHORT_TIMEOUT
        generation = submitted(provider, new_generation(alice, contract), tmp_path)
        with pytest.raises(PollError) as error:
            provider.poll(generation)
        outcome = provider.poll(generation)

    assert error.value.retry_after == retry_after
    assert isinstance(outcome, Succeeded)


@each_contract
def test_an_unreachable_upstream_is_a_poll_error(alice, closed_port, contract):
    row = Provider.objects.create(
        name="gone", kind=contract.kind, base_url=f"http://127.0.0.1:{closed_port}"
    )
    generation = new_generation(alice, contract, upstream_ref="task_1")
    with pytest.raises(PollError, match="Connection refused"):
        adapter(row).poll(generation)


@pytest.mark.parametrize(
    "header, seconds",
    [("7", 7.0), ("0", 0.0), ("2.5", 2.5), ("-3", 0.0), ("86400", 300.0), ("soon", None)]
    + [(None, None), ("nan", None)],
)
def test_it_reads_retry_after_in_seconds(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_it_reads_retry_after_as_an_http_date():
    in_30_seconds = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(in_30_seconds) <= 30


@each_contract
def test_an_unknown_state_word_is_logged_and_polled_again(alice, tmp_path, caplog, contract):
    done = exchange(
        alice, contract, tmp_path, Step("awaiting_moderation"), Step("success"), polls=2
    )

    first, second = done.outcomes
    assert first == Running(done.generation.upstream_ref, progress=None)
    assert isinstance(second, Succeeded)
    assert "'awaiting_moderation'" in caplog.text
    assert done.generation.upstream_ref in caplog.text


# Polls: answers that end the task, each failing with its own reason

ENDINGS = [
    pytest.param(
        envelope(404, "Task not found"),
        Failed("UPSTREAM_ERROR", "The upstream has no task {ref} (code 404: Task not found)."),
        id="404",
    ),
    pytest.param(
        envelope(404, "Task not found", status=200),
        Failed("UPSTREAM_ERROR", "The upstream has no task {ref} (code 404: Task not found)."),
        id="404-in-a-200",
    ),
    pytest.param(
        envelope(400, "taskId is required"),
        Failed(
            "UPSTREAM_ERROR", "The upstream answered code 400: taskId is required for task {ref}."
        ),
        id="400",
    ),
    pytest.param(
        envelope(501, "Generation failed", status=200),
        Failed(
            "UPSTREAM_ERROR", "The upstream answered code 501: Generation failed for task {ref}."
        ),
        id="501",
    ),
    pytest.param(
        Step("fail", fail_code="CONTENT_VIOLATION", fail_msg="The prompt violates the policy"),
        Failed("CONTENT_VIOLATION", "The prompt violates the policy"),
        id="fail-content-violation",
    ),
    pytest.param(
        Step("fail", fail_code="INVALID_IMAGE_URL", fail_msg="Cannot access the image URL"),
        Failed("INVALID_IMAGE_URL", "Cannot access the image URL"),
        id="fail-invalid-image-url",
    ),
    pytest.param(
        Step("fail", fail_code="E1042", fail_msg="Model overloaded"),
        Failed("UPSTREAM_ERROR", "Model overloaded (upstream failCode E1042)"),
        id="fail-their-own-code",
    ),
    pytest.param(
        Step("fail", fail_msg="Content policy violation"),
        Failed("UPSTREAM_ERROR", "Content policy violation"),
        id="fail-message-only",
    ),
    pytest.param(
        Step("fail"),
        Failed("UPSTREAM_ERROR", "The upstream reported the generation failed without a reason."),
        id="fail-no-reason",
    ),
] + [
    pytest.param(
        Step("success", result_urls=urls),
        Failed(
            "UPSTREAM_ERROR", "The upstream reported task {ref} done but gave no usable result URL."
        ),
        id=f"success-{name}",
    )
    for name, urls in [
        ("no-result-url", []),
        ("null-result-url", [None]),
        ("ftp-result-url", ["ftp://files.example/result.mp4"]),
        ("result-url-with-credentials", ["https://user:secret@cdn.example/a.mp4"]),
    ]
]


@each_contract
@pytest.mark.parametrize("answer, expected", ENDINGS)
def test_an_answer_that_ends_the_task_fails_with_its_reason(
    alice, tmp_path, contract, answer, expected
):
    done = exchange(alice, contract, tmp_path, answer)
    reference = done.generation.upstream_ref
    assert done.outcomes == [Failed(expected.code, expected.message.format(ref=reference))]


@each_contract
def test_a_task_the_upstream_never_made_is_not_found(alice, contract):
    with FakeUpstream(contract) as fake:
        generation = new_generation(alice, contract, upstream_ref="task_unknown")
        outcome = adapter(fake.provider_row()).poll(generation)
    assert outcome == Failed(
        "UPSTREAM_ERROR",
        "The upstream has no task task_unknown (code 404: Task task_unknown not found).",
    )


# The API key

ECHOED = f"Invalid API key {API_KEY}"


@each_contract
def test_the_api_key_never_appears_in_a_message(alice, tmp_path, contract):
    with FakeUpstream(contract) as fake:
        fake.on_submit(envelope(401, ECHOED), envelope(422, ECHOED, status=200))
        fake.script(envelope(500, ECHOED), envelope(400, ECHOED), Step("fail", fail_msg=ECHOED))
        provider = adapter(fake.provider_row())
        generation = new_generation(alice, contract)
        messages = []
        for _ in range(2):
            with pytest.raises(SubmitRefused) as refused:
                provider.start(generation, tmp_path, keep_lease)
            messages.append(str(refused.value))
        submitted(provider, generation, tmp_path)
        with pytest.raises(PollError) as error:
            provider.poll(generation)
        messages += [str(error.value), provider.poll(generation).message]
        messages.append(provider.poll(generation).message)

    assert all(API_KEY not in message and HIDDEN_KEY in message for message in messages)
    assert len(messages) == 5


@each_contract
def test_cancel_sends_nothing_the_contracts_have_no_cancel_call(alice, tmp_path, contract):
    with FakeUpstream(contract) as fake:
        provider = adapter(fake.provider_row())
        generation = submitted(provider, new_generation(alice, contract), tmp_path)
        fake.server.clear()
        provider.cancel(generation)
    assert fake.server.requests == []


# The engine acting on outcomes, in this process


def test_a_result_the_engine_may_not_fetch_fails_the_generation(alice, tmp_path):
    """A result URL that redirects to a refused URL fails the generation at once.

    Not stored is a failure like any other: nothing charged, no poll again.
    """
    with FakeUpstream(JOBS) as fake:
        fake.server.route("/files/moved.mp4", Reply.redirect("ftp://files.example/result.mp4"))
        fake.script(Step("success", result_urls=[fake.url + "/files/moved.mp4"]))
        row = fake.provider_row()
        generation = submitted(adapter(row), new_generation(alice, JOBS), tmp_path)
        Generation.objects.filter(pk=generation.pk).update(
            state=Generation.GENERATING, provider=row, upstream_ref=generation.upstream_ref
        )
        tasks.poll_generation(generation.pk, 0)

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (Generation.FAIL, "UPSTREAM_ERROR")
    assert "could not be stored" in generation.fail_msg
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("0.00")


# End to end: the real worker, the real queue, the fake upstream


def test_it_makes_a_video_upstream_stores_it_and_charges_the_quote(worker, alice):
    with FakeUpstream(JOBS) as fake:
        fake.script(Step("running", progress=40), Step("success"))
        row = fake.provider_row(priority=10)
        generation = services.submit(user=alice, model=JOBS.model, input=JOBS.input)
        finish(generation)

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert (generation.provider_id, generation.upstream_ref) == (row.pk, "task_jobs_1")
    assert generation.charged_credits == generation.quoted_credits == Decimal("55.00")
    account = CreditAccount.objects.get(team__members__user=alice)
    assert (account.balance, account.held) == (Decimal("445.00"), Decimal("0.00"))
    with default_storage.open(generation.video.name) as handle, av.open(handle) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 64)
    assert (generation.width, generation.height, generation.duration) == (64, 64, 1.0)
    with default_storage.open(generation.poster.name) as handle, Image.open(handle) as poster:
        assert poster.format == "JPEG"
        red, green, blue = poster.convert("RGB").getpixel((32, 32))
        assert blue > 150 > red  # the upstream's thumbnail, not a frame of the video
    assert len(fake.submits) == 1
    # running, then success seen by the poller; the worker copies the result
    # from the URLs the poller saw, without asking again.
    assert len(fake.polls) == 2


def test_a_refused_submit_falls_back_to_the_next_provider(worker, alice):
    with FakeUpstream(JOBS) as first, FakeUpstream(VIDEO_GENERATIONS) as second:
        first.on_submit(envelope(402, "Insufficient credits"))
        first.provider_row(name="first", priority=10)
        row = second.provider_row(name="second", priority=20)
        generation = services.submit(user=alice, model=JOBS.model, input=JOBS.input)
        finish(generation)

    assert generation.state == Generation.SUCCESS, generation.fail_msg
    assert generation.provider_id == row.pk
    assert (len(first.submits), len(second.submits)) == (1, 1)
    assert second.submits[0].json()["model"] == JOBS.model
    assert generation.charged_credits == Decimal("55.00")
