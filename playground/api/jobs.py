"""The jobs contract (seeds 000, 001, 003): createTask, recordInfo, cancel, credits.

Our internal states are this contract's states: waiting, queuing,
generating, success, fail.
"""

from django.http import HttpRequest, JsonResponse

from accounts import ledger
from playground import services
from playground.api.auth import api_view, read_json
from playground.api.common import (
    callback_url_error,
    credits_number,
    json_string,
    ms,
    request_base_url,
    result_object,
    team_generation,
)
from playground.api.errors import ApiError, field_errors
from playground.models import Generation

NAME = "jobs"
STATES = {state: state for state, _ in Generation.STATES}


def envelope(data, *, code: int = 200, msg: str = "success") -> JsonResponse:
    return JsonResponse({"code": code, "msg": msg, "data": data}, status=code)


def envelope_error(error: ApiError) -> JsonResponse:
    data = {"errors": error.errors} if error.errors else None
    return JsonResponse(
        {"code": error.status, "msg": error.message, "data": data}, status=error.status
    )


def kie_api(*methods: str):
    """The decorator for the three Kie-style contracts, which share this envelope."""
    return api_view(methods=methods, render_error=envelope_error, input_prefix="input.")


def optional_string(body: dict, name: str) -> str:
    value = body.get(name)
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise field_errors({name: ["Must be a string."]})
    return value.strip()


def callback_from(body: dict, name: str) -> str:
    url = optional_string(body, name)
    if url:
        problem = callback_url_error(url)
        if problem:
            raise field_errors({name: [problem]})
    return url


def create(request: HttpRequest, *, contract: str, model, input, callback_url: str, body: dict):
    """The shared create step of the Kie-style contracts."""
    if not isinstance(model, str) or not model.strip():
        raise field_errors({"model": ["This field is required."]})
    if input is None:
        raise field_errors({"input": ["This field is required."]})
    return services.submit(
        user=request.user,
        model=model.strip(),
        input=input,
        contract=contract,
        api_key=request.api_key,
        callback_url=callback_url,
        base_url=request_base_url(request),
        request=body,
        idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
    )


@kie_api("POST")
def create_task(request: HttpRequest) -> JsonResponse:
    body = read_json(request)
    generation = create(
        request,
        contract=NAME,
        model=body.get("model"),
        input=body.get("input"),
        callback_url=callback_from(body, "callBackUrl"),
        body=body,
    )
    return envelope({"taskId": generation.task_id})


def record(generation: Generation, request: HttpRequest | None = None, *, states=None) -> dict:
    """A generation as recordInfo's `data` (also the body of callbacks)."""
    states = states or STATES
    return {
        "taskId": generation.task_id,
        "model": generation.model_name or generation.model_id,
        "state": states[generation.state],
        "param": json_string(generation.request),
        "resultJson": json_string(result_object(generation, request)),
        "failCode": generation.fail_code or None,
        "failMsg": generation.fail_msg or None,
        "progress": generation.progress,
        "costTime": generation.cost_time_ms,
        "createTime": ms(generation.created_at),
        "updateTime": ms(generation.updated_at),
        "completeTime": ms(generation.completed_at),
        "creditsCharged": credits_number(generation.charged_credits),
    }


@kie_api("GET")
def record_info(request: HttpRequest) -> JsonResponse:
    generation = team_generation(request, request.GET.get("taskId"))
    return envelope(record(generation, request))


@kie_api("POST")
def cancel(request: HttpRequest) -> JsonResponse:
    body = read_json(request)
    generation = team_generation(request, body.get("taskId"))
    if generation.is_finished:
        raise ApiError(400, f"Task {generation.task_id} has already finished ({generation.state}).")
    services.cancel(generation)
    generation.refresh_from_db()
    return envelope({"taskId": generation.task_id, "state": generation.state})


@kie_api("GET")
def chat_credit(request: HttpRequest) -> JsonResponse:
    """Kie-style clients read the available credits as `data` itself."""
    return envelope(credits_number(ledger.available(request.user.credit_account)))


@kie_api("GET")
def account_credits(request: HttpRequest) -> JsonResponse:
    account = ledger.current(request.user.credit_account)
    return envelope(
        {
            "balance": credits_number(account.balance),
            "held": credits_number(account.held),
            "available": credits_number(account.available()),
        }
    )


def callback_body(generation: Generation) -> dict:
    """The callback POSTed when a jobs-contract task finishes (seed 002's format,
    with Kie's codes: 200 on success, 501 on failure)."""
    data = record(generation)
    data["creditsConsumed"] = data["creditsCharged"]
    if generation.state == Generation.SUCCESS:
        return {"code": 200, "msg": "success", "data": data}
    return {"code": 501, "msg": generation.fail_msg or "Generation failed.", "data": data}
