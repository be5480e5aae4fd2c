"""The Replicate predictions contract: what the official `replicate` Python client speaks.

    POST /v1/models/{owner}/{name}/predictions   create; `Prefer: wait[=N]` holds the answer
    POST /v1/predictions                          create from {"version": ...}
    GET  /v1/predictions                          the team's predictions of this contract, by cursor
    GET  /v1/predictions/{id}                     get
    POST /v1/predictions/{id}/cancel              cancel: the hold is released
    GET  /v1/models/{owner}/{name}                the model, its latest version's Cog-shaped schema
    GET  /v1/models/{owner}/{name}/versions[/{version}]
    GET  /v1/webhooks/default/secret              the key webhooks are signed with

    waiting, queuing → starting          generating → processing
    success → succeeded                  fail → failed (fail code CANCELLED → canceled)

`owner/name` is any catalog id or alias of that form (google/veo-3-1,
kwaivgi/kling-v2.6). A model's version is its spec file's content hash. The
body's `input` meets the one validator; `webhook` is the task's callback URL,
and the webhooks are this contract's callbacks: `start` when the generation
starts, the completed prediction when it finishes (playground/webhooks/).
"""

import base64
import binascii
import json
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from playground import catalog, lifecycle, services
from playground.api import limits
from playground.api.auth import api_view, read_json
from playground.api.common import callback_url_error, file_url, plausible_id, request_base_url
from playground.api.errors import ApiError, field_errors
from playground.catalog import ModelSpec
from playground.catalog.openapi import input_schema
from playground.models import Generation

NAME = "replicate"
STATES = {
    Generation.WAITING: "starting",
    Generation.QUEUING: "starting",
    Generation.GENERATING: "processing",
    Generation.SUCCESS: "succeeded",
    Generation.FAIL: "failed",
}
STATUSES = ("starting", "processing", "succeeded", "failed", "canceled")
# Replicate's webhook events. Ours sends `start` and the completed prediction;
# the output appears once, at completion, so `output` asks for the completion
# of a successful prediction, and `logs` for nothing more (see callback_body).
EVENTS = ("start", "output", "logs", "completed")
WAIT_MAX_SECONDS = 60
PAGE_SIZE = 100
# The Cog version whose schema layout `openapi_schema` follows; no Cog runs here.
COG_VERSION = "0.9.0"
PROGRESS_BAR_WIDTH = 20
TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    402: "Insufficient credit",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    422: "Input validation failed",
    429: "Too many requests",
    455: "Service unavailable",
    500: "Internal server error",
    505: "Model unavailable",
}


# -- errors -------------------------------------------------------------------


def error_response(error: ApiError) -> JsonResponse:
    """Replicate's problem details: the client raises ReplicateError with `status`,
    `title` and `detail`."""
    body: dict[str, Any] = {
        "title": TITLES.get(error.status, "Error"),
        "detail": error.message,
        "status": error.status,
    }
    if error.errors:
        body["detail"] = "\n".join(
            f"- {name}: {' '.join(messages)}" for name, messages in error.errors.items()
        )
        body["invalid_fields"] = [
            {"type": "invalid", "field": name, "description": " ".join(messages)}
            for name, messages in error.errors.items()
        ]
    return JsonResponse(body, status=error.status, content_type="application/problem+json")


def replicate_api(*methods: str):
    return api_view(methods=methods, render_error=error_response, input_prefix="input.")


# -- the prediction object ----------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as Replicate writes its timestamps."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def origin(request: HttpRequest | None, generation: Generation | None = None) -> str:
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request is not None:
        return request_base_url(request)
    return (generation.base_url if generation else "") or "http://localhost:8000"


def status_of(generation: Generation) -> str:
    if generation.state == Generation.FAIL and generation.fail_code == lifecycle.CANCELLED:
        return "canceled"
    return STATES[generation.state]


def version_of(model_id: str) -> str:
    try:
        return catalog.get_spec(model_id).version
    except catalog.UnknownModel:
        return "unknown"  # the model left the catalog since


def progress_line(percent: int) -> str:
    """A tqdm-style line, the one `Prediction.progress` of the client parses."""
    filled = PROGRESS_BAR_WIDTH * percent // 100
    bar = "█" * filled + " " * (PROGRESS_BAR_WIDTH - filled)
    return f"{percent:3d}%|{bar}| {percent}/100"


def logs_of(generation: Generation) -> str:
    """The generation's history as log lines, with its progress last while it runs."""
    lines = []
    for event in generation.events.all():
        line = f"{iso(event.at)} {event.to_state}"
        lines.append(f"{line}: {event.note}" if event.note else line)
    if generation.state == Generation.GENERATING:
        lines.append(progress_line(generation.progress))
    elif generation.state == Generation.SUCCESS:
        lines.append(progress_line(100))
    return "\n".join(lines)


def metrics_of(generation: Generation) -> dict[str, float]:
    if generation.completed_at is None:
        return {}
    metrics = {"total_time": (generation.completed_at - generation.created_at).total_seconds()}
    if generation.started_at is not None:
        metrics["predict_time"] = (generation.completed_at - generation.started_at).total_seconds()
    return metrics


def prediction(
    generation: Generation, request: HttpRequest | None = None, *, status: str | None = None
) -> dict[str, Any]:
    """A generation as Replicate's prediction object (also the body of its webhooks)."""
    base = origin(request, generation)
    get_url = base + reverse("replicate-prediction", args=[generation.task_id])
    output = None
    if generation.state == Generation.SUCCESS:
        output = file_url(generation, generation.video, request)
    status = status or status_of(generation)
    return {
        "id": generation.task_id,
        "model": generation.model_name or generation.model_id,
        "version": version_of(generation.model_id),
        "input": generation.input,
        "output": output,
        "status": status,
        # A cancelled prediction has no error, as on Replicate.
        "error": (generation.fail_msg or "The prediction failed.") if status == "failed" else None,
        "logs": logs_of(generation),
        "metrics": metrics_of(generation),
        "created_at": iso(generation.created_at),
        "started_at": iso(generation.started_at),
        "completed_at": iso(generation.completed_at),
        "urls": {
            "get": get_url,
            "cancel": base + reverse("replicate-cancel", args=[generation.task_id]),
            "web": base + reverse("generation", args=[generation.task_id]),
        },
        # OpenAI's DELETE removes a video's files and keeps its row.
        "data_removed": generation.deleted_at is not None,
        "source": "web" if generation.source == Generation.SOURCE_PLAYGROUND else "api",
    }


def team_prediction(request: HttpRequest, prediction_id: str) -> Generation:
    """The team's generation with this id, whichever contract made it; 404 otherwise."""
    generation = (
        Generation.objects.filter(task_id=prediction_id, team_id=request.user.profile.team_id)
        .prefetch_related("events")
        .first()
        if plausible_id(prediction_id)
        else None
    )
    if generation is None:
        raise ApiError(404, f"Prediction {prediction_id} not found.", code="not_found")
    return generation


# -- webhooks (this contract's callbacks) -------------------------------------


def webhook_events(generation: Generation) -> set[str]:
    sent = generation.request if isinstance(generation.request, dict) else {}
    chosen = sent.get("webhook_events_filter")
    return set(chosen) if isinstance(chosen, list) else set(EVENTS)


def callback_body(generation: Generation) -> dict | None:
    """The webhook POSTed when the prediction finishes, or None when its filter
    wants no such event."""
    events = webhook_events(generation)
    if "completed" in events or ("output" in events and generation.state == Generation.SUCCESS):
        return prediction(generation)
    return None


def start_body(generation: Generation) -> dict | None:
    """The webhook POSTed when the prediction starts processing (event `start`)."""
    return prediction(generation) if "start" in webhook_events(generation) else None


def webhook_from(body: dict) -> tuple[str, list[str]]:
    """(the webhook URL or "", the events it gets), checked as callback URLs are."""
    for name in ("webhook", "webhook_completed"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise field_errors({name: ["Must be a URL string."]})
    webhook = (body.get("webhook") or "").strip()
    completed = (body.get("webhook_completed") or "").strip()
    if webhook and completed:
        raise field_errors({"webhook_completed": ["Send webhook or webhook_completed, not both."]})
    chosen = body.get("webhook_events_filter")
    if chosen is None:
        events = list(EVENTS)
    elif not isinstance(chosen, list) or not all(event in EVENTS for event in chosen):
        raise field_errors(
            {"webhook_events_filter": [f"Must be a list of events from: {', '.join(EVENTS)}."]}
        )
    else:
        events = [event for event in EVENTS if event in chosen]
    name, url = ("webhook_completed", completed) if completed else ("webhook", webhook)
    if completed:
        events = ["completed"]  # the legacy parameter: the completed prediction only
    if url:
        problem = callback_url_error(url)
        if problem:
            raise field_errors({name: [problem]})
    return url, events


# -- create ---------------------------------------------------------------------


def prefer_wait(request: HttpRequest) -> int:
    """Seconds `Prefer: wait` or `Prefer: wait=N` asks to hold the answer (0: none)."""
    for preference in request.headers.get("Prefer", "").split(","):
        # A preference may carry parameters after ";" (RFC 7240); wait takes none.
        word, _, value = preference.split(";")[0].strip().partition("=")
        if word.strip().lower() != "wait":
            continue
        if not value.strip():
            return WAIT_MAX_SECONDS
        try:
            seconds = int(value.strip())
        except ValueError:
            raise ApiError(
                400, f"Prefer: wait={value.strip()} needs a whole number of seconds, 1 to 60."
            ) from None
        return max(1, min(WAIT_MAX_SECONDS, seconds))
    return 0


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
    input = body.get("input")
    if not isinstance(input, dict):
        raise field_errors({"input": ["Required: an object of the model's input fields."]})
    webhook, events = webhook_from(body)
    wait = prefer_wait(request)
    sent = {key: value for key, value in body.items() if key != "stream"}
    if webhook:
        sent["webhook_events_filter"] = events
    generation = services.submit(
        user=request.user,
        model=model,
        input=input,
        contract=NAME,
        api_key=request.api_key,
        callback_url=webhook,
        base_url=request_base_url(request),
        request=sent,
        idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
    )
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
    response = JsonResponse(prediction(generation, request, status=status), status=201)
    if wait:
        response["Preference-Applied"] = f"wait={wait}"
    return response


def model_spec(owner: str, name: str) -> ModelSpec:
    try:
        return catalog.get_spec(f"{owner}/{name}")
    except catalog.UnknownModel:
        raise ApiError(404, f"Model {owner}/{name} not found.", code="not_found") from None


@replicate_api("POST")
def model_predictions(request: HttpRequest, owner: str, name: str) -> JsonResponse:
    model_spec(owner, name)
    return create(request, f"{owner}/{name}", read_json(request))


def version_model(version: Any) -> str:
    """The model a `version` names: a version id, `owner/name:version` or `owner/name`."""
    if not isinstance(version, str) or not version.strip():
        raise field_errors({"version": ["Required: a model version id."]})
    model, _, version_id = version.strip().rpartition(":")
    if not model and "/" in version_id:
        return version_id  # owner/name: its latest version
    if model:
        try:
            spec = catalog.get_spec(model)
        except catalog.UnknownModel:
            raise field_errors({"version": [f"No model {model}."]}) from None
        if spec.version != version_id:
            raise field_errors(
                {
                    "version": [
                        f"{version_id} is not a version of {model}; its version is {spec.version}."
                    ]
                }
            )
        return model
    for spec in catalog.all_specs():
        if spec.version == version_id:
            return spec.id
    raise field_errors({"version": [f"No model has version {version_id}."]})


@replicate_api("GET", "POST")
def predictions(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        body = read_json(request)
        return create(request, version_model(body.get("version")), body)
    return list_predictions(request)


# -- read, list, cancel -------------------------------------------------------


def encode_cursor(direction: str, created_at: datetime, key: str) -> str:
    raw = json.dumps([direction, created_at.isoformat(), key])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        direction, created_at, key = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ApiError(400, "Invalid cursor: use the next or previous URL of a page.") from None
    if direction not in ("next", "previous") or not isinstance(key, str) or not plausible_id(key):
        raise ApiError(400, "Invalid cursor: use the next or previous URL of a page.")
    return direction, moment, key


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
        direction, created_at, last = decode_cursor(cursor)
        anchor = (created_at, last)
        if direction == "next":
            rows = rows.filter(
                Q(created_at__lt=created_at) | Q(created_at=created_at, **{f"{key}__lt": last})
            )
        else:
            rows = rows.filter(
                Q(created_at__gt=created_at) | Q(created_at=created_at, **{f"{key}__gt": last})
            )
    ordering = ("-created_at", f"-{key}") if direction == "next" else ("created_at", key)
    page = list(rows.order_by(*ordering)[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    if direction == "previous":
        page.reverse()
    older = more if direction == "next" else anchor is not None
    newer = more if direction == "previous" else anchor is not None
    url = origin(request) + reverse(route) + "?cursor="

    def link(direction: str, row) -> str:
        return url + encode_cursor(direction, row.created_at, getattr(row, key))

    return page, {
        "next": link("next", page[-1]) if page and older else None,
        "previous": link("previous", page[0]) if page and newer else None,
    }


def list_predictions(request: HttpRequest) -> JsonResponse:
    """The team's predictions made through this contract, newest first, PAGE_SIZE a page.

    Only this contract's, as the OpenAI list keeps to its own; any team
    generation is still read by id.
    """
    # Served by the gen_team_recent index (team, -created_at); the contract
    # and the keyset bound filter within that range.
    rows = Generation.objects.filter(
        team_id=request.user.profile.team_id, contract=NAME
    ).prefetch_related("events")
    page, links = keyset_page(request, rows, "task_id", "replicate-predictions")
    return JsonResponse(
        {**links, "results": [prediction(generation, request) for generation in page]}
    )


@replicate_api("GET")
def prediction_detail(request: HttpRequest, prediction_id: str) -> JsonResponse:
    return JsonResponse(prediction(team_prediction(request, prediction_id), request))


@replicate_api("POST")
def cancel(request: HttpRequest, prediction_id: str) -> JsonResponse:
    """Cancel an unfinished prediction (nothing is charged); a finished one is returned as is."""
    generation = team_prediction(request, prediction_id)
    if not generation.is_finished:
        services.cancel(generation)
        generation = team_prediction(request, prediction_id)
    return JsonResponse(prediction(generation, request))


# -- models and versions ------------------------------------------------------


def openapi_schema(spec: ModelSpec) -> dict[str, Any]:
    """The model's schema in the layout Cog generates: Input from the spec, Output a URI."""
    schema = input_schema(spec)
    schema["title"] = "Input"
    schema["properties"] = {
        name: {**field, "x-order": order}
        for order, (name, field) in enumerate(schema["properties"].items())
    }

    def component(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    moment = {"type": "string", "format": "date-time"}
    return {
        "openapi": "3.1.0",
        "info": {"title": spec.title, "version": spec.version},
        "paths": {
            "/predictions": {
                "post": {
                    "summary": "Predict",
                    "operationId": "predict",
                    "requestBody": {
                        "content": {"application/json": {"schema": component("PredictionRequest")}}
                    },
                    "responses": {
                        "200": {
                            "description": "Successful Response",
                            "content": {
                                "application/json": {"schema": component("PredictionResponse")}
                            },
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Input": schema,
                "Output": {"type": "string", "format": "uri", "title": "Output"},
                "Status": {"type": "string", "enum": list(STATUSES)},
                "WebhookEvent": {"type": "string", "enum": list(EVENTS)},
                "PredictionRequest": {
                    "type": "object",
                    "title": "PredictionRequest",
                    "properties": {
                        "input": component("Input"),
                        "webhook": {"type": "string", "format": "uri"},
                        "webhook_events_filter": {
                            "type": "array",
                            "items": component("WebhookEvent"),
                        },
                    },
                },
                "PredictionResponse": {
                    "type": "object",
                    "title": "PredictionResponse",
                    "properties": {
                        "id": {"type": "string"},
                        "input": component("Input"),
                        "output": component("Output"),
                        "status": component("Status"),
                        "error": {"type": "string"},
                        "logs": {"type": "string"},
                        "metrics": {"type": "object"},
                        "created_at": moment,
                        "started_at": moment,
                        "completed_at": moment,
                    },
                },
            }
        },
    }


def version_object(spec: ModelSpec) -> dict[str, Any]:
    created = None
    if spec.source_file is not None:
        try:
            created = datetime.fromtimestamp(spec.source_file.stat().st_mtime, UTC)
        except OSError:
            pass
    return {
        "id": spec.version,
        "created_at": iso(created or datetime.fromtimestamp(0, UTC)),
        "cog_version": COG_VERSION,
        "openapi_schema": openapi_schema(spec),
    }


def model_object(request: HttpRequest, spec: ModelSpec, owner: str, name: str) -> dict[str, Any]:
    runs = Generation.objects.filter(
        team_id=request.user.profile.team_id, model_id=spec.id
    ).count()  # the gen_team_model index
    return {
        "url": origin(request) + reverse("model", args=[spec.id]),
        "owner": owner,
        "name": name,
        "description": spec.summary,
        "visibility": "public",
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": runs,
        "cover_image_url": None,
        "default_example": None,
        "latest_version": version_object(spec),
    }


@replicate_api("GET")
def model(request: HttpRequest, owner: str, name: str) -> JsonResponse:
    return JsonResponse(model_object(request, model_spec(owner, name), owner, name))


@replicate_api("GET")
def versions(request: HttpRequest, owner: str, name: str) -> JsonResponse:
    spec = model_spec(owner, name)
    return JsonResponse({"next": None, "previous": None, "results": [version_object(spec)]})


@replicate_api("GET")
def version(request: HttpRequest, owner: str, name: str, version_id: str) -> JsonResponse:
    spec = model_spec(owner, name)
    if version_id != spec.version:
        raise ApiError(
            404, f"Version {version_id} of {owner}/{name} not found; its version is {spec.version}."
        )
    return JsonResponse(version_object(spec))


# -- webhooks -----------------------------------------------------------------


@replicate_api("GET")
def webhook_secret(request: HttpRequest) -> JsonResponse:
    """The signing secret of this user's webhooks, for `replicate.webhooks.validate`."""
    response = JsonResponse({"key": request.user.profile.signing_secret()})
    response["Cache-Control"] = "no-store"
    return response
