"""The Replicate predictions contract: what the official `replicate` Python client speaks.

    POST /v1/models/{owner}/{name}/predictions   create; `Prefer: wait[=N]` holds the answer
    POST /v1/predictions                          create from {"version": ...}
    GET  /v1/predictions                          the team's predictions of this contract, by cursor
    GET  /v1/predictions/{id}                     get
    POST /v1/predictions/{id}/cancel              cancel: the hold is released
    GET  /v1/models/{owner}/{name}                the model, its latest version's Cog-shaped schema
    GET  /v1/models/{owner}/{name}/versions[/{version}]
    GET  /v1/webhooks/default/secret              the key webhooks are signed with
    POST /v1/files, GET /v1/files[/{id}], DELETE /v1/files/{id}   its files API

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
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from playground import catalog
from playground.catalog import ModelSpec
from playground.contracts.errors import ApiError, field_errors
from playground.contracts.openapi import (
    MOMENT,
    NULLABLE_MOMENT,
    NULLABLE_STRING,
    STRING,
    link,
    obj,
    ok,
    path_param,
    query,
    with_links,
)
from playground.contracts.wire import Submission, base_url, file_url, parse_json, plausible_id
from playground.models import Generation, Upload
from playground.outbound import callback_url_error

NAME = "replicate"
STATES = {
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
# The multipart part of a file upload that carries the file.
CONTENT = "content"
# A file's metadata is kept in the upload's row: small, unlike the file.
METADATA_MAX_BYTES = 64 * 1024
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


def prediction_not_found(prediction_id: str) -> ApiError:
    return ApiError(404, f"Prediction {prediction_id} not found.", code="not_found")


def file_not_found(file_id: str) -> ApiError:
    return ApiError(404, f"File {file_id} not found.", code="not_found")


def model_not_found(owner: str, name: str) -> ApiError:
    return ApiError(404, f"Model {owner}/{name} not found.", code="not_found")


# -- the prediction object ----------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as Replicate writes its timestamps."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def status_of(generation: Generation) -> str:
    if (
        generation.state == Generation.FAIL
        and generation.fail_code == Generation.FailCode.CANCELLED
    ):
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
    # An unsaved generation (the docs pages' sample) has no history to read.
    events = generation.events.all() if generation.pk is not None else ()
    for event in events:
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
    generation: Generation, request_base: str | None = None, *, status: str | None = None
) -> dict[str, Any]:
    """A generation as Replicate's prediction object (also the body of its webhooks)."""
    base = base_url(generation, request_base)
    get_url = base + reverse("replicate-prediction", args=[generation.task_id])
    output = None
    if generation.state == Generation.SUCCESS:
        output = file_url(generation, generation.video, request_base)
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


def parse_create(model: str, body: dict) -> Submission:
    """A create body: {input, webhook?, webhook_completed?, webhook_events_filter?}."""
    input = body.get("input")
    if not isinstance(input, dict):
        raise field_errors({"input": ["Required: an object of the model's input fields."]})
    webhook, events = webhook_from(body)
    sent = {key: value for key, value in body.items() if key != "stream"}
    if webhook:
        sent["webhook_events_filter"] = events
    return Submission(model=model, input=input, request=sent, callback_url=webhook)


def model_spec(owner: str, name: str) -> ModelSpec:
    try:
        return catalog.get_spec(f"{owner}/{name}")
    except catalog.UnknownModel:
        raise model_not_found(owner, name) from None


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


# -- pages of predictions and files ---------------------------------------------


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


def page_links(
    url: str, rows: list, key: str, *, direction: str, more: bool, anchored: bool
) -> dict[str, str | None]:
    """Replicate's `next` (older) and `previous` (newer) URLs around a page of
    `rows`, newest first: `url` with a cursor on (created_at, `key`)."""
    older = more if direction == "next" else anchored
    newer = more if direction == "previous" else anchored

    def link(direction: str, row) -> str:
        return url + "?cursor=" + encode_cursor(direction, row.created_at, getattr(row, key))

    return {
        "next": link("next", rows[-1]) if rows and older else None,
        "previous": link("previous", rows[0]) if rows and newer else None,
    }


# -- models and versions ------------------------------------------------------


def openapi_schema(spec: ModelSpec) -> dict[str, Any]:
    """The model's schema in the layout Cog generates: Input from the spec, Output a URI."""
    schema = catalog.input_schema(spec)
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


def check_version(spec: ModelSpec, owner: str, name: str, version_id: str) -> None:
    if version_id != spec.version:
        raise ApiError(
            404, f"Version {version_id} of {owner}/{name} not found; its version is {spec.version}."
        )


def model_object(
    spec: ModelSpec, owner: str, name: str, *, run_count: int, request_base: str
) -> dict[str, Any]:
    return {
        "url": base_url(None, request_base) + reverse("model", args=[spec.id]),
        "owner": owner,
        "name": name,
        "description": spec.summary,
        "visibility": "public",
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": run_count,
        "cover_image_url": None,
        "default_example": None,
        "latest_version": version_object(spec),
    }


# -- files ----------------------------------------------------------------------


def file_object(upload: Upload, request_base: str) -> dict[str, Any]:
    """An upload as Replicate's file object (replicate.file.File)."""
    checksums = {"sha256": upload.sha256, "md5": upload.md5}
    return {
        "id": upload.file_id,
        "name": upload.original_name or upload.file_name,
        "content_type": upload.mime_type,
        "size": upload.size_bytes,
        # Replicate's etag is the MD5 of the content. Uploads stored before
        # digests were kept have none; their id stands for their bytes, which
        # never change.
        "etag": upload.md5 or upload.file_id,
        "checksums": {name: digest for name, digest in checksums.items() if digest},
        "metadata": upload.metadata,
        "created_at": iso(upload.created_at),
        # When the sweeper deletes the file if no generation has used it by
        # then. A generation that uses it keeps it for good (uploads.mark_used),
        # and this time no longer applies; DELETE still removes it.
        "expires_at": iso(upload.expires_at),
        "urls": {"get": upload.public_url(request_base)},
    }


def metadata_from(text: str | None) -> dict:
    """The `metadata` form field as a JSON object ({} when absent), or a 422.

    Stored in a JSON column, so it is read as request bodies are (parse_json).
    """
    if text is None or not text.strip():
        return {}

    def refuse(message: str) -> ApiError:
        return field_errors({"metadata": [message]})

    if len(text.encode("utf-8", "surrogatepass")) > METADATA_MAX_BYTES:
        raise refuse(f"Too large: at most {METADATA_MAX_BYTES // 1024} KB of JSON.")
    try:
        value = parse_json(text)
    except ValueError as exc:
        raise refuse(f"Malformed JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise refuse("Must be a JSON object.")
    return value


# -- OpenAPI --------------------------------------------------------------------

TAGS = ["Replicate predictions"]
FILE_TAGS = ["Replicate files"]
PROBLEM = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "title": STRING,
        "detail": STRING,
        "status": {"type": "integer"},
        "invalid_fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": STRING, "field": STRING, "description": STRING},
            },
        },
    },
    "description": "Problem details; the client raises ReplicateError with status and detail.",
}
ERROR_TEXT = {
    400: "Bad request: malformed JSON, a bad cursor or a bad Prefer: wait.",
    401: "Unauthenticated: the API key is missing or invalid.",
    402: "Insufficient credit for this prediction.",
    404: "Not found: no such model or prediction (or it belongs to another team).",
    413: "Request too large: a JSON body over 2.5 MB, or a form with too many fields or files.",
    422: "Input validation failed: invalid_fields names each field.",
    429: "Too many requests, or too many unfinished predictions.",
    455: "Service unavailable: maintenance.",
    500: "Server error.",
    505: "No provider serves the model now.",
}


FILE_ERROR_TEXT = {
    **ERROR_TEXT,
    400: "Bad request: not multipart/form-data, an unreadable body or a bad cursor.",
    404: "Not found: no such file (or it belongs to another team).",
    422: "The file is missing, empty, of another type or too large, or metadata is "
    "not a JSON object: invalid_fields names the part.",
}


def errors(*codes: int, text: dict[int, str] = ERROR_TEXT) -> dict:
    answers = {}
    for code in codes:
        content = {"application/problem+json": {"schema": PROBLEM}}
        if code == 404:
            # A /v1/ URL no route matches gets the site's JSON 404, which has `detail` too.
            content["application/json"] = {"schema": PROBLEM}
        answers[str(code)] = {"description": text[code], "content": content}
    return answers


def prediction_schema() -> dict:
    return obj(
        ["id", "model", "version", "input", "status", "created_at", "urls"],
        id=STRING,
        model={**STRING, "description": "owner/name as requested."},
        version={**STRING, "description": "The model spec's content hash."},
        input={"type": "object", "description": "The input as validated and normalized."},
        output={**NULLABLE_STRING, "description": "The video's absolute URL once succeeded."},
        status={"type": "string", "enum": list(STATUSES)},
        error=NULLABLE_STRING,
        logs=STRING,
        metrics={
            "type": "object",
            "properties": {"predict_time": {"type": "number"}, "total_time": {"type": "number"}},
        },
        created_at=MOMENT,
        started_at=NULLABLE_MOMENT,
        completed_at=NULLABLE_MOMENT,
        urls={"type": "object", "additionalProperties": STRING},
        data_removed={"type": "boolean"},
        source={"type": "string", "enum": ["api", "web"]},
    )


def version_schema() -> dict:
    return obj(
        ["id", "created_at", "cog_version", "openapi_schema"],
        id=STRING,
        created_at=MOMENT,
        cog_version=STRING,
        openapi_schema={
            "type": "object",
            "description": "Cog's layout: components.schemas.Input and Output.",
        },
    )


def page(items: dict) -> dict:
    return obj(
        ["next", "previous", "results"],
        next={**NULLABLE_STRING, "description": "The URL of the next (older) page."},
        previous={**NULLABLE_STRING, "description": "The URL of the previous (newer) page."},
        results={"type": "array", "items": items},
    )


def file_schema() -> dict:
    return obj(
        [
            "id",
            "name",
            "content_type",
            "size",
            "etag",
            "checksums",
            "metadata",
            "created_at",
            "expires_at",
            "urls",
        ],
        id=STRING,
        name={**STRING, "description": "The name it was uploaded with."},
        content_type={
            "type": "string",
            "enum": ["image/jpeg", "image/png", "image/webp", "video/mp4"],
            "description": "Judged by the content, not by what the client said.",
        },
        size={"type": "integer", "description": "Bytes."},
        etag={**STRING, "description": "The content's MD5."},
        checksums={
            "type": "object",
            "properties": {"sha256": STRING, "md5": STRING},
            "additionalProperties": STRING,
        },
        metadata={"type": "object", "description": "As sent with the file."},
        created_at=MOMENT,
        expires_at={
            **NULLABLE_MOMENT,
            "description": "When the file is deleted unless a prediction uses it first; "
            "a file a prediction uses is kept.",
        },
        urls=obj(
            ["get"],
            get={
                **STRING,
                "format": "uri",
                "description": "The file itself: pass it as any image or video input.",
            },
        ),
    )


OWNER = path_param("owner", "The model's owner: the part of a catalog id or alias before '/'.")
NAME_IN_PATH = path_param("name", "The model's name: the part after '/' (google/veo-3-1).")
PREDICTION_ID = path_param("prediction_id", "The prediction's id, as create returned it.")
FILE_ID = path_param("file_id", "The file's id, as create returned it.")
CURSOR = query("cursor", "From a page's next or previous URL.", required=False)
WAIT_TEXT = (
    f"With `Prefer: wait` (or `wait=N`, 1 to {WAIT_MAX_SECONDS} s) the answer waits until the "
    "prediction finishes or the time runs out; an unfinished one is returned as `starting`. "
    "Without it, the answer comes at once."
)


def create_body(*, version_required: bool) -> dict:
    properties: dict[str, Any] = {
        "input": {"type": "object", "description": "The model's input fields (its schema)."},
        "webhook": {**STRING, "format": "uri"},
        "webhook_completed": {**STRING, "format": "uri", "description": "Completion only."},
        "webhook_events_filter": {
            "type": "array",
            "items": {"type": "string", "enum": list(EVENTS)},
        },
    }
    required = ["input"]
    if version_required:
        properties["version"] = {
            **STRING,
            "description": "A version id, owner/name:version or owner/name.",
        }
        required.append("version")
    example = {"input": {"prompt": "A paper boat on a rainy street", "duration": 5}}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": required, "properties": properties},
                "example": example,
            }
        },
    }


def file_paths() -> dict:
    file_id = {"file_id": "$response.body#/id"}
    upload = obj(
        ["content"],
        content={
            "type": "string",
            "format": "binary",
            "description": "The file: a JPEG, PNG or WebP image (at most UPLOAD_MAX_IMAGE_MB) "
            "or an MP4 video (at most UPLOAD_MAX_VIDEO_MB).",
        },
        filename={**STRING, "description": "Its name; the content part's filename otherwise."},
        type={**STRING, "description": "Accepted and ignored: the content decides the type."},
        metadata={
            **STRING,
            "description": f"A JSON object kept with the file, at most "
            f"{METADATA_MAX_BYTES // 1024} KB.",
        },
    )
    return {
        "/v1/files": {
            "post": {
                "operationId": "replicateCreateFile",
                "tags": FILE_TAGS,
                "summary": "Upload a file to use as a prediction input (the client's files.create)",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": upload}},
                },
                "responses": {
                    **with_links(
                        ok(file_schema(), 201, "The file."),
                        201,
                        replicateGetFile=link("replicateGetFile", "The file.", parameters=file_id),
                        replicateDeleteFile=link(
                            "replicateDeleteFile", "Delete it.", parameters=file_id
                        ),
                    ),
                    **errors(400, 401, 413, 422, 429, 455, 500, text=FILE_ERROR_TEXT),
                },
            },
            "get": {
                "operationId": "replicateListFiles",
                "tags": FILE_TAGS,
                "summary": "The team's files, newest first",
                "parameters": [CURSOR],
                "responses": {
                    **ok(page(file_schema())),
                    **errors(400, 401, 429, 455, 500, text=FILE_ERROR_TEXT),
                },
            },
        },
        "/v1/files/{file_id}": {
            "get": {
                "operationId": "replicateGetFile",
                "tags": FILE_TAGS,
                "summary": "A file",
                "parameters": [FILE_ID],
                "responses": {
                    **ok(file_schema()),
                    **errors(401, 404, 429, 455, 500, text=FILE_ERROR_TEXT),
                },
            },
            "delete": {
                "operationId": "replicateDeleteFile",
                "tags": FILE_TAGS,
                "summary": "Delete a file now: later requests for it answer 404",
                "parameters": [FILE_ID],
                "responses": {
                    "204": {"description": "Deleted."},
                    **errors(401, 404, 429, 455, 500, text=FILE_ERROR_TEXT),
                },
            },
        },
    }


def paths() -> dict:
    prediction_id = {"prediction_id": "$response.body#/id"}
    created = with_links(
        ok(prediction_schema(), 201, "The prediction."),
        201,
        replicateGetPrediction=link(
            "replicateGetPrediction", "The prediction, polled.", parameters=prediction_id
        ),
        replicateCancelPrediction=link(
            "replicateCancelPrediction", "Cancel it.", parameters=prediction_id
        ),
    )
    return {
        "/v1/models/{owner}/{name}/predictions": {
            "post": {
                "operationId": "replicateCreatePrediction",
                "tags": TAGS,
                "summary": "Create a prediction of a model (the replicate client's run)",
                "description": WAIT_TEXT,
                "parameters": [OWNER, NAME_IN_PATH],
                "requestBody": create_body(version_required=False),
                "responses": {
                    **created,
                    **errors(400, 401, 402, 404, 413, 422, 429, 455, 500, 505),
                },
            }
        },
        "/v1/predictions": {
            "post": {
                "operationId": "replicateCreatePredictionOfVersion",
                "tags": TAGS,
                "summary": "Create a prediction of a model version",
                "description": WAIT_TEXT,
                "requestBody": create_body(version_required=True),
                "responses": {**created, **errors(400, 401, 402, 413, 422, 429, 455, 500, 505)},
            },
            "get": {
                "operationId": "replicateListPredictions",
                "tags": TAGS,
                "summary": "The team's predictions made through this contract, newest first",
                "parameters": [CURSOR],
                "responses": {**ok(page(prediction_schema())), **errors(400, 401, 429, 455, 500)},
            },
        },
        "/v1/predictions/{prediction_id}": {
            "get": {
                "operationId": "replicateGetPrediction",
                "tags": TAGS,
                "summary": "A prediction",
                "parameters": [PREDICTION_ID],
                "responses": {**ok(prediction_schema()), **errors(401, 404, 429, 455, 500)},
            }
        },
        "/v1/predictions/{prediction_id}/cancel": {
            "post": {
                "operationId": "replicateCancelPrediction",
                "tags": TAGS,
                "summary": "Cancel an unfinished prediction: nothing is charged",
                "parameters": [PREDICTION_ID],
                "responses": {**ok(prediction_schema()), **errors(401, 404, 429, 455, 500)},
            }
        },
        "/v1/models/{owner}/{name}": {
            "get": {
                "operationId": "replicateGetModel",
                "tags": TAGS,
                "summary": "A model and its latest version's schema",
                "parameters": [OWNER, NAME_IN_PATH],
                "responses": {
                    **ok(
                        obj(
                            ["url", "owner", "name", "visibility", "run_count", "latest_version"],
                            url=STRING,
                            owner=STRING,
                            name=STRING,
                            description=NULLABLE_STRING,
                            visibility={"type": "string", "enum": ["public", "private"]},
                            github_url=NULLABLE_STRING,
                            paper_url=NULLABLE_STRING,
                            license_url=NULLABLE_STRING,
                            run_count={"type": "integer"},
                            cover_image_url=NULLABLE_STRING,
                            default_example={"type": ["object", "null"]},
                            latest_version=version_schema(),
                        )
                    ),
                    **errors(401, 404, 429, 455, 500),
                },
            }
        },
        "/v1/models/{owner}/{name}/versions": {
            "get": {
                "operationId": "replicateListModelVersions",
                "tags": TAGS,
                "summary": "A model's versions: its current one",
                "parameters": [OWNER, NAME_IN_PATH],
                "responses": {**ok(page(version_schema())), **errors(401, 404, 429, 455, 500)},
            }
        },
        "/v1/models/{owner}/{name}/versions/{version_id}": {
            "get": {
                "operationId": "replicateGetModelVersion",
                "tags": TAGS,
                "summary": "A model version",
                "parameters": [OWNER, NAME_IN_PATH, path_param("version_id", "The version id.")],
                "responses": {**ok(version_schema()), **errors(401, 404, 429, 455, 500)},
            }
        },
        "/v1/webhooks/default/secret": {
            "get": {
                "operationId": "replicateWebhookSecret",
                "tags": TAGS,
                "summary": "The key webhooks are signed with (Standard Webhooks)",
                "responses": {
                    **ok(obj(["key"], key={**STRING, "pattern": "^whsec_"})),
                    **errors(401, 429, 455, 500),
                },
            }
        },
        **file_paths(),
    }
