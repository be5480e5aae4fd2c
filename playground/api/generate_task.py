"""The generateTask dialect (seed 004): the model in the path, its own state words.

    waiting, queuing → pending     generating → processing
    success → success              fail → failed

`provider` (auto | value | official) is the seed's routing strategy. Here
every request is routed by the admin's provider priorities with fallback,
which is what `auto` means; the other two words are accepted so existing
clients keep working, and recorded in the task's `param`.
"""

from django.http import HttpRequest, JsonResponse

from playground import catalog
from playground.api.auth import read_json
from playground.api.common import team_generation
from playground.api.errors import ApiError, field_errors
from playground.api.jobs import callback_from, create, envelope, kie_api
from playground.api.jobs import record as jobs_record
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


@kie_api("POST")
def generate(request: HttpRequest, model: str) -> JsonResponse:
    body = read_json(request)
    request_type = body.get("request_type", "async")
    if request_type not in REQUEST_TYPES:
        raise field_errors({"request_type": ["Must be one of async, callback."]})
    routing = body.get("provider", "auto")
    if routing not in ROUTING:
        raise field_errors({"provider": ["Must be one of auto, value, official."]})
    callback_url = callback_from(body, "callback_url")
    if request_type == "callback" and not callback_url:
        raise field_errors({"callback_url": ["Required when request_type is callback."]})
    generation = create(
        request,
        contract=NAME,
        model=model,
        input=body.get("input"),
        callback_url=callback_url,
        body=body,
    )
    return envelope({"taskId": generation.task_id})


def record(generation: Generation, request: HttpRequest | None = None) -> dict:
    """recordInfo's fields (seed 004 lists a subset of them) in this dialect's states."""
    return jobs_record(generation, request, states=STATES)


@kie_api("GET")
def status(request: HttpRequest, model: str) -> JsonResponse:
    generation = team_generation(request, request.GET.get("taskId"))
    try:
        same_model = catalog.get_spec(model).id == generation.model_id
    except catalog.UnknownModel:
        same_model = False
    if not same_model:
        raise ApiError(404, f"Task {generation.task_id} is not a {model} task.", code="not_found")
    return envelope(record(generation, request))


def callback_body(generation: Generation) -> dict:
    return {"code": 200, "msg": "success", "data": record(generation)}
