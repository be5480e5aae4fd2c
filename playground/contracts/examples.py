"""Example responses of every contract, for the docs pages.

Each example is what the contract's own render function makes of a sample
generation of the model (its spec's first example input, priced by the
catalog), so the docs show exactly what the API answers and cannot drift
from it. The sample is never saved.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from playground import catalog
from playground.catalog import ModelSpec
from playground.contracts import generate_task, jobs, openai, replicate, video_generations
from playground.contracts.openai_sizes import size_of
from playground.models import Generation

# Fixed, so a page reads the same on every visit.
SAMPLE_TASK_ID = "gen_q3vz6kx2mh7ra4tnw5cye2pb"
SAMPLE_CREATED_AT = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
SAMPLE_STARTED_AFTER = timedelta(seconds=1.2)
SAMPLE_FINISHED_AFTER = timedelta(seconds=48.6)


@dataclass(frozen=True)
class ContractExample:
    name: str  # the contract's module name
    title: str
    create: str  # e.g. "POST /api/v1/jobs/createTask"
    status: str
    request: dict  # the create call's body, for the spec's first example
    created: Any  # the create call's JSON answer
    finished: Any  # the status call's JSON answer once the video is ready


def sample_generation(
    spec: ModelSpec, request: dict, *, finished: bool, model_name: str = ""
) -> Generation:
    """An unsaved generation of the spec's first example, created by `request`
    (the body as its contract takes it): just created, or finished.

    `model_name`: the name the client called the model by (its id by default).
    """
    normalized = catalog.validate(spec.id, spec.examples[0].input)
    price = catalog.quote(spec.id, normalized)
    generation = Generation(
        task_id=SAMPLE_TASK_ID,
        contract=jobs.NAME,
        model_id=spec.id,
        model_name=model_name or spec.id,
        input=normalized,
        request=request,
        quoted_credits=price.credits,
        price_breakdown=price.breakdown,
        state=Generation.QUEUING,
        created_at=SAMPLE_CREATED_AT,
        updated_at=SAMPLE_CREATED_AT,
    )
    if not finished:
        return generation
    done = SAMPLE_CREATED_AT + SAMPLE_FINISHED_AFTER
    params = spec.render_params(normalized)
    size = size_of(spec, normalized)
    width, height = (int(side) for side in size.split("x")) if size else (None, None)
    generation.state = Generation.SUCCESS
    generation.progress = 100
    generation.charged_credits = price.credits
    generation.started_at = SAMPLE_CREATED_AT + SAMPLE_STARTED_AFTER
    generation.completed_at = generation.updated_at = done
    generation.duration = params["duration"]
    generation.has_audio = params["audio"]
    generation.width, generation.height = width, height
    folder = "generations/Xk2v9QpL0aTs4mWz7bYc1dEf"  # as results.store names them
    generation.video = f"{folder}/{SAMPLE_TASK_ID}.mp4"
    generation.poster = f"{folder}/{SAMPLE_TASK_ID}.jpg"
    return generation


def contract_examples(spec: ModelSpec, base_url: str) -> list[ContractExample]:
    """Each contract's create body for the spec's first example, and its answers
    to the create call and to the status call once the video is ready."""
    if not spec.examples:
        return []
    given = spec.examples[0].input
    called = replicate_name(spec)
    owner, _, name = called.partition("/")

    def example(contract, title, create, status, request, created, finished, model_name=""):
        new = sample_generation(spec, request, finished=False, model_name=model_name)
        done = sample_generation(spec, request, finished=True, model_name=model_name)
        return ContractExample(
            contract.NAME, title, create, status, request, created(new), finished(done)
        )

    return [
        example(
            jobs,
            "jobs",
            "POST /api/v1/jobs/createTask",
            "GET /api/v1/jobs/recordInfo?taskId=",
            {"model": spec.id, "input": given},
            lambda new: jobs.envelope_body(jobs.created(new)),
            lambda done: jobs.envelope_body(jobs.record(done, base_url)),
        ),
        example(
            video_generations,
            "video generations",
            "POST /api/v1/video/generations",
            "GET /api/v1/video/generations?task_id=",
            {"model": spec.id, **given},
            lambda new: jobs.envelope_body(video_generations.created(new)),
            lambda done: jobs.envelope_body(video_generations.status(done, base_url)),
        ),
        example(
            generate_task,
            "generateTask",
            f"POST /api/v1/generateTask/{spec.id}",
            f"GET /api/v1/statusTask/{spec.id}?taskId=",
            {"input": given},
            lambda new: jobs.envelope_body(jobs.created(new)),
            lambda done: jobs.envelope_body(generate_task.record(done, base_url)),
        ),
        example(
            openai,
            "OpenAI videos",
            "POST /v1/videos",
            "GET /v1/videos/{id}",
            # The model's own fields go beside OpenAI's parameters.
            {"model": spec.id, **given},
            openai.video_object,
            openai.video_object,
        ),
        example(
            replicate,
            "Replicate predictions",
            f"POST /v1/models/{owner}/{name}/predictions",
            "GET /v1/predictions/{id}",
            {"input": given},
            lambda new: replicate.prediction(new, base_url),
            lambda done: replicate.prediction(done, base_url),
            model_name=called,
        ),
    ]


def replicate_name(spec: ModelSpec) -> str:
    """The owner/name the `replicate` client calls the model by: its id or an alias."""
    names = [spec.id, *spec.aliases]
    return next((name for name in names if name.count("/") == 1), names[0])
