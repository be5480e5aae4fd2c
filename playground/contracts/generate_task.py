"""The generateTask dialect (seed 004): the model in the path, its own state words.

    waiting, queuing → pending     generating → processing
    success → success              fail → failed

`provider` (auto | value | official) is the seed's routing strategy. Here
every request is routed by the admin's provider priorities with fallback,
which is what `auto` means; the other two words are accepted so existing
clients keep working, and recorded in the task's `param`.

Its envelope is the jobs contract's; its status is recordInfo's in its own words.
"""

from playground import catalog
from playground.contracts import jobs
from playground.contracts.errors import ApiError, field_errors
from playground.contracts.wire import Submission, callback_from
from playground.models import Generation

NAME = "generate_task"
STATES = {
    Generation.WAITING: "pending",
    Generation.QUEUING: "pending",
    Generation.GENERATING: "processing",
    Generation.SUCCESS: "success",
    Generation.FAIL: "failed",
}
REQUEST_TYPES = ("async", "callback")
ROUTING = ("auto", "value", "official")


def parse_create(model: str, body: dict) -> Submission:
    """The body of /generateTask/{model}: {request_type?, provider?, callback_url?, input}."""
    request_type = body.get("request_type", "async")
    if request_type not in REQUEST_TYPES:
        raise field_errors({"request_type": ["Must be one of async, callback."]})
    routing = body.get("provider", "auto")
    if routing not in ROUTING:
        raise field_errors({"provider": ["Must be one of auto, value, official."]})
    callback_url = callback_from(body, "callback_url")
    if request_type == "callback" and not callback_url:
        raise field_errors({"callback_url": ["Required when request_type is callback."]})
    return jobs.kie_submission(
        body, model=model, input=body.get("input"), callback_url=callback_url
    )


def check_model(generation: Generation, model: str) -> None:
    """A status call names the model in its path: another model's task is not found."""
    try:
        same_model = catalog.get_spec(model).id == generation.model_id
    except catalog.UnknownModel:
        same_model = False
    if not same_model:
        raise ApiError(404, f"Task {generation.task_id} is not a {model} task.", code="not_found")


def record(generation: Generation, request_base: str | None = None) -> dict:
    """recordInfo's fields (seed 004 lists a subset of them) in this dialect's states."""
    return jobs.record(generation, request_base, states=STATES)


def callback_body(generation: Generation) -> dict:
    return {"code": 200, "msg": "success", "data": record(generation)}
