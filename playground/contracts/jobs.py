"""The jobs contract (seeds 000, 001, 003): createTask, recordInfo, cancel, credits,
and Kie's three upload endpoints.

Our internal states are this contract's states: waiting, queuing,
generating, success, fail. Its `{code, msg, data}` envelope is shared by the
other two Kie-style contracts (video_generations, generate_task).
"""

from datetime import UTC

from django.http import JsonResponse

from accounts.models import CreditAccount
from playground.contracts.errors import ApiError, field_errors
from playground.contracts.wire import (
    Submission,
    callback_from,
    credits_number,
    json_string,
    ms,
    result_object,
)
from playground.models import Generation, Upload

NAME = "jobs"
STATES = {state: state for state, _ in Generation.STATES}


def envelope(data, *, code: int = 200, msg: str = "success") -> JsonResponse:
    return JsonResponse({"code": code, "msg": msg, "data": data}, status=code)


def envelope_error(error: ApiError) -> JsonResponse:
    data = {"errors": error.errors} if error.errors else None
    return JsonResponse(
        {"code": error.status, "msg": error.message, "data": data}, status=error.status
    )


def task_not_found(task_id: str) -> ApiError:
    return ApiError(404, f"Task {task_id} not found.", code="not_found")


def required_task_id(task_id) -> str:
    """The taskId a status or cancel call names; a 400 when there is none."""
    if not isinstance(task_id, str) or not task_id:
        raise ApiError(400, "taskId is required.", errors={"taskId": ["This field is required."]})
    return task_id


def kie_submission(body: dict, *, model, input, callback_url: str) -> Submission:
    """The create request of a Kie-style contract, once its own fields are read."""
    if not isinstance(model, str) or not model.strip():
        raise field_errors({"model": ["This field is required."]})
    if input is None:
        raise field_errors({"input": ["This field is required."]})
    return Submission(model=model.strip(), input=input, request=body, callback_url=callback_url)


def parse_create(body: dict) -> Submission:
    """createTask's body: {model, input, callBackUrl?}."""
    callback_url = callback_from(body, "callBackUrl")
    return kie_submission(
        body, model=body.get("model"), input=body.get("input"), callback_url=callback_url
    )


def record(generation: Generation, request_base: str | None = None, *, states=None) -> dict:
    """A generation as recordInfo's `data` (also the body of callbacks)."""
    states = states or STATES
    return {
        "taskId": generation.task_id,
        "model": generation.model_name or generation.model_id,
        "state": states[generation.state],
        "param": json_string(generation.request),
        "resultJson": json_string(result_object(generation, request_base)),
        "failCode": generation.fail_code or None,
        "failMsg": generation.fail_msg or None,
        "progress": generation.progress,
        "costTime": generation.cost_time_ms,
        "createTime": ms(generation.created_at),
        "updateTime": ms(generation.updated_at),
        "completeTime": ms(generation.completed_at),
        "creditsCharged": credits_number(generation.charged_credits),
    }


def already_finished(generation: Generation) -> ApiError:
    return ApiError(400, f"Task {generation.task_id} has already finished ({generation.state}).")


def credits(account: CreditAccount) -> dict:
    return {
        "balance": credits_number(account.balance),
        "held": credits_number(account.held),
        "available": credits_number(account.available()),
    }


def callback_body(generation: Generation) -> dict:
    """The callback POSTed when a jobs-contract task finishes (seed 002's format,
    with Kie's codes: 200 on success, 501 on failure)."""
    data = record(generation)
    data["creditsConsumed"] = data["creditsCharged"]
    if generation.state == Generation.SUCCESS:
        return {"code": 200, "msg": "success", "data": data}
    return {"code": 501, "msg": generation.fail_msg or "Generation failed.", "data": data}


def iso_ms(moment) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def upload_data(upload: Upload, request_base: str) -> dict:
    """An upload as Kie's upload endpoints answer: the fields of both shapes it documents."""
    url = upload.public_url(request_base)
    return {
        "fileId": upload.file_id,
        "fileName": upload.file_name,
        "originalName": upload.original_name,
        "filePath": upload.storage_name,
        "fileUrl": url,
        "downloadUrl": url,
        "fileSize": upload.size_bytes,
        "mimeType": upload.mime_type,
        "uploadedAt": iso_ms(upload.created_at),
        "expiresAt": iso_ms(upload.expires_at),
    }
