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
from playground.contracts.openapi import (
    INTEGER,
    NULLABLE_INTEGER,
    NULLABLE_STRING,
    STRING,
    json_body,
    link,
    obj,
    query,
    with_links,
)
from playground.contracts.wire import Submission, callback_from
from playground.models import Generation

NAME = "generate_task"
STATES = {
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


# -- OpenAPI --------------------------------------------------------------------

STATE_SCHEMA = {"type": "string", "enum": list(dict.fromkeys(STATES.values()))}


def status_schema() -> dict:
    return obj(
        ["taskId", "state"],
        taskId=STRING,
        model=STRING,
        state=STATE_SCHEMA,
        param=NULLABLE_STRING,
        resultJson=NULLABLE_STRING,
        failCode=NULLABLE_STRING,
        failMsg=NULLABLE_STRING,
        progress=INTEGER,
        createTime=INTEGER,
        completeTime=NULLABLE_INTEGER,
        costTime=NULLABLE_INTEGER,
    )


def paths() -> dict:
    return {
        "/api/v1/generateTask/{model}": {
            "post": {
                "operationId": "generateTask",
                "tags": ["generateTask"],
                "summary": "Create a task for the model in the path (seed 004's dialect)",
                "parameters": [jobs.MODEL_IN_PATH],
                "requestBody": json_body(
                    obj(
                        ["input"],
                        request_type={"type": "string", "enum": ["async", "callback"]},
                        callback_url={**STRING, "format": "uri"},
                        provider={"type": "string", "enum": ["auto", "value", "official"]},
                        input={"type": "object"},
                    ),
                    {
                        "request_type": "async",
                        "input": {
                            "mode": "master-text-to-video",
                            "prompt": "A red fox in fresh snow",
                        },
                    },
                ),
                "responses": {
                    **with_links(
                        jobs.envelope_ok(obj(["taskId"], taskId=STRING)),
                        200,
                        statusTask=link(
                            "statusTask",
                            "The task's state and result, asked of the same model.",
                            parameters={
                                "model": "$request.path.model",
                                "taskId": jobs.CREATED_TASK_ID,
                            },
                        ),
                    ),
                    **jobs.error_responses(400, 401, 402, 413, 422, 429, 455, 500, 505),
                },
            }
        },
        "/api/v1/statusTask/{model}": {
            "get": {
                "operationId": "statusTask",
                "tags": ["generateTask"],
                "summary": "A generateTask task's state and result",
                "parameters": [
                    jobs.MODEL_IN_PATH,
                    query("taskId", "The taskId generateTask returned."),
                ],
                "responses": {
                    **jobs.envelope_ok(status_schema()),
                    **jobs.error_responses(400, 401, 404, 429, 455, 500),
                },
            }
        },
    }
