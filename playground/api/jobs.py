"""Views of the jobs contract (playground/contracts/jobs.py): createTask, recordInfo,
cancel, credits. `kie_api` is the decorator of the three Kie-style contracts."""

from django.http import HttpRequest, JsonResponse

from accounts import ledger
from playground import services
from playground.api.auth import api_view, read_json
from playground.api.lookup import team_generation
from playground.api.submit import submit_from
from playground.contracts import jobs
from playground.contracts.wire import credits_number, request_base_url


def kie_api(*methods: str):
    """The decorator for the three Kie-style contracts, which share the jobs envelope."""
    return api_view(methods=methods, render_error=jobs.envelope_error, input_prefix="input.")


@kie_api("POST")
def create_task(request: HttpRequest) -> JsonResponse:
    submission = jobs.parse_create(read_json(request))
    generation = submit_from(request, submission, contract=jobs.NAME)
    return jobs.envelope(jobs.created(generation))


@kie_api("GET")
def record_info(request: HttpRequest) -> JsonResponse:
    task_id = jobs.required_task_id(request.GET.get("taskId"))
    generation = team_generation(request, task_id, jobs.task_not_found)
    return jobs.envelope(jobs.record(generation, request_base_url(request)))


@kie_api("POST")
def cancel(request: HttpRequest) -> JsonResponse:
    task_id = jobs.required_task_id(read_json(request).get("taskId"))
    generation = team_generation(request, task_id, jobs.task_not_found)
    if generation.is_finished:
        raise jobs.already_finished(generation)
    services.cancel(generation)
    generation.refresh_from_db()
    return jobs.envelope({"taskId": generation.task_id, "state": generation.state})


@kie_api("GET")
def chat_credit(request: HttpRequest) -> JsonResponse:
    """Kie-style clients read the available credits as `data` itself."""
    return jobs.envelope(credits_number(ledger.available(request.api_key.account_id)))


@kie_api("GET")
def account_credits(request: HttpRequest) -> JsonResponse:
    return jobs.envelope(jobs.credits(ledger.current(request.api_key.account_id)))
