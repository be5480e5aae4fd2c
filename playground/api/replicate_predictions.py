"""Views of the Replicate predictions contract (playground/contracts/replicate.py)."""

import time

from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from playground import keyset, services
from playground.api import limits
from playground.api.auth import api_view, read_json
from playground.api.lookup import team_generation
from playground.api.submit import submit_from
from playground.contracts import replicate
from playground.contracts.wire import base_url, request_base_url
from playground.models import Generation


def replicate_api(*methods: str):
    return api_view(methods=methods, render_error=replicate.error_response, input_prefix="input.")


def team_prediction(request: HttpRequest, prediction_id: str) -> Generation:
    return team_generation(request, prediction_id, replicate.prediction_not_found)


def prediction_response(request: HttpRequest, generation: Generation, **kwargs) -> JsonResponse:
    return JsonResponse(replicate.prediction(generation, request_base_url(request)), **kwargs)


def hold(generation: Generation, seconds: int) -> bool:
    """Wait until the generation finishes or `seconds` run out; True if it finished.

    Reads only the state, each read a query of its own (no transaction is
    held open), a little less often as the wait goes on.
    """
    deadline = time.monotonic() + seconds
    pause = 0.1
    while True:
        state = Generation.objects.filter(pk=generation.pk).values_list("state", flat=True).first()
        if state in Generation.FINISHED:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, 0.5)


def create(request: HttpRequest, model: str, body: dict) -> JsonResponse:
    """The shared create step: parse, submit through the one core, answer 201."""
    submission = replicate.parse_create(model, body)
    wait = replicate.prefer_wait(request)
    generation = submit_from(request, submission, contract=replicate.NAME)
    status = None
    if wait:
        with limits.wait_slot(request.api_key, generation.team_id) as may_wait:
            finished = may_wait and hold(generation, wait)
        if not may_wait:
            wait = 0  # not applied: no Preference-Applied header
        if not finished:
            # The client's run() takes every status but `starting` as final and
            # would return no output: an unfinished prediction says `starting`,
            # and the client polls it from there.
            status = "starting"
    generation = team_prediction(request, generation.task_id)
    response = JsonResponse(
        replicate.prediction(generation, request_base_url(request), status=status), status=201
    )
    if wait:
        response["Preference-Applied"] = f"wait={wait}"
    return response


@replicate_api("POST")
def model_predictions(request: HttpRequest, owner: str, name: str) -> JsonResponse:
    replicate.model_spec(owner, name)
    return create(request, f"{owner}/{name}", read_json(request))


@replicate_api("GET", "POST")
def predictions(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        body = read_json(request)
        return create(request, replicate.version_model(body.get("version")), body)
    return list_predictions(request)


def keyset_page(
    request: HttpRequest, rows: QuerySet, key: str, route: str
) -> tuple[list, dict[str, str | None]]:
    """A page of `rows`, newest first, PAGE_SIZE long, and Replicate's `next` and
    `previous` URLs (to the `route`, with a `cursor`) around it.

    Keyset pages on (created_at, `key`), a unique field: a page stays right
    while new rows arrive, which offsets would shift.
    """
    direction, anchor = "next", None
    cursor = request.GET.get("cursor")
    if cursor:
        direction, created_at, last = replicate.decode_cursor(cursor)
        anchor = (created_at, last)
    newer = direction == "previous"
    page, more = keyset.rows_beside(rows, anchor, size=replicate.PAGE_SIZE, newer=newer, key=key)
    if newer:
        page.reverse()
    url = base_url(None, request_base_url(request)) + reverse(route)
    links = replicate.page_links(
        url, page, key, direction=direction, more=more, anchored=anchor is not None
    )
    return page, links


def list_predictions(request: HttpRequest) -> JsonResponse:
    """The team's predictions made through this contract, newest first, PAGE_SIZE a page.

    Only this contract's, as the OpenAI list keeps to its own; any team
    generation is still read by id.
    """
    # Served by the gen_team_recent index (team, -created_at); the contract
    # and the keyset bound filter within that range.
    rows = Generation.objects.filter(
        team_id=request.user.profile.team_id, contract=replicate.NAME
    ).prefetch_related("events")
    page, links = keyset_page(request, rows, "task_id", "replicate-predictions")
    request_base = request_base_url(request)
    return JsonResponse(
        {
            **links,
            "results": [replicate.prediction(generation, request_base) for generation in page],
        }
    )


@replicate_api("GET")
def prediction_detail(request: HttpRequest, prediction_id: str) -> JsonResponse:
    return prediction_response(request, team_prediction(request, prediction_id))


@replicate_api("POST")
def cancel(request: HttpRequest, prediction_id: str) -> JsonResponse:
    """Cancel an unfinished prediction (nothing is charged); a finished one is returned as is."""
    generation = team_prediction(request, prediction_id)
    if not generation.is_finished:
        services.cancel(generation)
        generation = team_prediction(request, prediction_id)
    return prediction_response(request, generation)


@replicate_api("GET")
def model(request: HttpRequest, owner: str, name: str) -> JsonResponse:
    spec = replicate.model_spec(owner, name)
    runs = Generation.objects.filter(
        team_id=request.user.profile.team_id, model_id=spec.id
    ).count()  # the gen_team_model index
    return JsonResponse(
        replicate.model_object(
            spec, owner, name, run_count=runs, request_base=request_base_url(request)
        )
    )


@replicate_api("GET")
def versions(request: HttpRequest, owner: str, name: str) -> JsonResponse:
    spec = replicate.model_spec(owner, name)
    return JsonResponse(
        {"next": None, "previous": None, "results": [replicate.version_object(spec)]}
    )


@replicate_api("GET")
def version(request: HttpRequest, owner: str, name: str, version_id: str) -> JsonResponse:
    spec = replicate.model_spec(owner, name)
    replicate.check_version(spec, owner, name, version_id)
    return JsonResponse(replicate.version_object(spec))


@replicate_api("GET")
def webhook_secret(request: HttpRequest) -> JsonResponse:
    """The signing secret of this user's webhooks, for `replicate.webhooks.validate`."""
    response = JsonResponse({"key": request.user.profile.signing_secret()})
    response["Cache-Control"] = "no-store"
    return response
