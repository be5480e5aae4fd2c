"""The video generations dialect (seed 002): a flat body, its own state words.

waiting, queuing → pending     generating → processing
success → completed            fail → failed

Its envelope is the jobs contract's.
"""

from playground import catalog
from playground.contracts.jobs import kie_submission
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
    Generation.WAITING: "pending",
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
