"""Views of the video generations dialect (playground/contracts/video_generations.py)."""

from django.http import HttpRequest, JsonResponse

from playground.api.auth import read_json
from playground.api.jobs import kie_api
from playground.api.lookup import team_generation
from playground.api.submit import submit_from
from playground.contracts import jobs, video_generations
from playground.contracts.wire import request_base_url


@kie_api("GET", "POST")
def generations(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return status(request)
    submission = video_generations.parse_create(read_json(request))
    generation = submit_from(request, submission, contract=video_generations.NAME)
    return jobs.envelope(video_generations.created(generation))


def status(request: HttpRequest) -> JsonResponse:
    task_id = jobs.required_task_id(request.GET.get("task_id"))
    generation = team_generation(request, task_id, jobs.task_not_found)
    return jobs.envelope(video_generations.status(generation, request_base_url(request)))
