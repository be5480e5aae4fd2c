"""Views of the generateTask dialect (playground/contracts/generate_task.py)."""

from django.http import HttpRequest, JsonResponse

from playground.api.auth import read_json
from playground.api.jobs import kie_api
from playground.api.lookup import team_generation
from playground.api.submit import submit_from
from playground.contracts import generate_task, jobs
from playground.contracts.wire import request_base_url


@kie_api("POST")
def generate(request: HttpRequest, model: str) -> JsonResponse:
    submission = generate_task.parse_create(model, read_json(request))
    generation = submit_from(request, submission, contract=generate_task.NAME)
    return jobs.envelope(jobs.created(generation))


@kie_api("GET")
def status(request: HttpRequest, model: str) -> JsonResponse:
    task_id = jobs.required_task_id(request.GET.get("taskId"))
    generation = team_generation(request, task_id, jobs.task_not_found)
    generate_task.check_model(generation, model)
    return jobs.envelope(generate_task.record(generation, request_base_url(request)))
