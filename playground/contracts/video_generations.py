"""The video generations dialect (seed 002): a flat body, its own state words.

waiting, queuing → pending     generating → processing
success → completed            fail → failed

Its envelope is the jobs contract's.
"""

from playground import catalog
from playground.contracts import jobs
from playground.contracts.jobs import kie_submission
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
from playground.contracts.wire import (
    Submission,
    callback_from,
    json_string,
    ms,
    result_object,
    result_urls,
)
from playground.models import Generation

NAME = "video_generations"
STATES = {
    Generation.QUEUING: "pending",
    Generation.GENERATING: "processing",
    Generation.SUCCESS: "completed",
    Generation.FAIL: "failed",
}
NOT_INPUT = {"model", "callback_url"}


def model_label(generation: Generation) -> str:
    """Seed 002 answers with the vendor-prefixed name, e.g. kling-video/kling-v2-6."""
    spec = catalog.get_spec(generation.model_id)
    prefixed = [alias for alias in spec.aliases if alias.startswith("kling-video/")]
    return prefixed[0] if prefixed else generation.model_name or generation.model_id


def parse_create(body: dict) -> Submission:
    """The flat body: `model`, `callback_url`, and the model's fields beside them."""
    input = {key: value for key, value in body.items() if key not in NOT_INPUT}
    callback_url = callback_from(body, "callback_url")
    return kie_submission(body, model=body.get("model"), input=input, callback_url=callback_url)


def created(generation: Generation) -> dict:
    return {
        "taskId": generation.task_id,
        "state": STATES[generation.state],
        "model": model_label(generation),
    }


def status(generation: Generation, request_base: str | None = None) -> dict:
    data = {
        "taskId": generation.task_id,
        "state": STATES[generation.state],
        "model": model_label(generation),
        "progress": generation.progress,
        "resultUrls": result_urls(generation, request_base),
        "createTime": ms(generation.created_at),
        "completeTime": ms(generation.completed_at),
        "costTime": generation.cost_time_ms,
    }
    if generation.state == Generation.FAIL:
        data["failCode"] = generation.fail_code
        data["failMsg"] = generation.fail_msg
    return data


def callback_body(generation: Generation) -> dict:
    """Seed 002's callback: one POST when the task completes or fails."""
    return {
        "code": 200,
        "msg": "success",
        "data": {
            "taskId": generation.task_id,
            "model": model_label(generation),
            "state": STATES[generation.state],
            "param": json_string(generation.request),
            "resultJson": json_string(result_object(generation)),
            "failCode": generation.fail_code or None,
            "failMsg": generation.fail_msg or None,
            "costTime": generation.cost_time_ms,
            "completeTime": ms(generation.completed_at),
            "createTime": ms(generation.created_at),
        },
    }


# -- OpenAPI --------------------------------------------------------------------

STATE_SCHEMA = {"type": "string", "enum": list(dict.fromkeys(STATES.values()))}


def status_schema() -> dict:
    return obj(
        ["taskId", "state", "model"],
        taskId=STRING,
        state=STATE_SCHEMA,
        model=STRING,
        progress=INTEGER,
        resultUrls={"type": "array", "items": STRING},
        createTime=INTEGER,
        completeTime=NULLABLE_INTEGER,
        costTime=NULLABLE_INTEGER,
        failCode=NULLABLE_STRING,
        failMsg=NULLABLE_STRING,
    )


def paths() -> dict:
    flat_body = {
        "type": "object",
        "required": ["model"],
        "properties": {
            "model": {**STRING, "examples": ["kling-v2-6"]},
            "callback_url": {**STRING, "format": "uri"},
        },
        "additionalProperties": True,
        "description": "The model's input fields, flat beside `model` (see the model schemas).",
    }
    return {
        "/api/v1/video/generations": {
            "post": {
                "operationId": "createVideoGeneration",
                "tags": ["video generations"],
                "summary": "Create a task (flat body; seed 002's dialect)",
                "requestBody": json_body(
                    flat_body,
                    {
                        "model": "kling-v2-6",
                        "prompt": "A girl dancing on the beach at sunset",
                        "mode": "std",
                        "duration": "5",
                        "aspect_ratio": "16:9",
                    },
                ),
                "responses": {
                    **with_links(
                        jobs.envelope_ok(
                            obj(
                                ["taskId", "state", "model"],
                                taskId=STRING,
                                state=STATE_SCHEMA,
                                model=STRING,
                            )
                        ),
                        200,
                        getVideoGeneration=link(
                            "getVideoGeneration",
                            "The task's state and result URLs.",
                            parameters={"task_id": jobs.CREATED_TASK_ID},
                        ),
                    ),
                    **jobs.error_responses(400, 401, 402, 413, 422, 429, 455, 500, 505),
                },
            },
            "get": {
                "operationId": "getVideoGeneration",
                "tags": ["video generations"],
                "summary": "A task's state and result URLs",
                "parameters": [query("task_id", "The taskId the create call returned.")],
                "responses": {
                    **jobs.envelope_ok(status_schema()),
                    **jobs.error_responses(400, 401, 404, 429, 455, 500),
                },
            },
        },
    }
