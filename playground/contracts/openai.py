"""The OpenAI videos contract: what `client.videos` of the official `openai` SDK speaks.

    POST   /v1/videos                   create (multipart/form-data, or JSON)
    GET    /v1/videos                   the team's videos of this contract, by cursor
    GET    /v1/videos/{id}              retrieve
    DELETE /v1/videos/{id}              delete a finished video and its files
    GET    /v1/videos/{id}/content      the MP4 (variant=video) or its poster (thumbnail)
    POST   /v1/videos/{id}/remix        the same model and parameters with a new prompt

    waiting, queuing → queued      generating → in_progress
    success → completed            fail → failed

OpenAI's parameters land on the model's own fields: `prompt` and `seconds`
on the fields the spec's render block takes the prompt and the duration
from, `size` on its aspect ratio and resolution (openai_sizes.py), and
`input_reference` on its first image field. Every other key of the body is a
model field (SDK users send them with `extra_body`) and meets the one
validator like any request.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import JsonResponse

from playground import catalog
from playground.catalog import FieldSpec, ModelSpec
from playground.catalog.values import is_blank
from playground.contracts import openai_sizes
from playground.contracts.errors import ApiError
from playground.contracts.openapi import (
    INTEGER,
    NULLABLE_INTEGER,
    NULLABLE_STRING,
    STRING,
    json_body,
    link,
    obj,
    ok,
    path_param,
    with_links,
)
from playground.contracts.wire import Submission
from playground.models import Generation

NAME = "openai"
STATES = {
    Generation.QUEUING: "queued",
    Generation.GENERATING: "in_progress",
    Generation.SUCCESS: "completed",
    Generation.FAIL: "failed",
}
PARAMS = ("model", "prompt", "seconds", "size", "input_reference")
IMAGE_FIELD_TYPES = ("image_url", "image_urls")
VARIANTS = {"video": "video", "thumbnail": "poster"}
TRUE_WORDS = {"true", "1", "on", "yes"}
FALSE_WORDS = {"false", "0", "off", "no"}
NESTED_KEY = re.compile(r"^([^\[\]]+)\[([^\[\]]+)\]$")
MAX_PAGE = 100
ERROR_TYPES = {
    401: "invalid_request_error",  # OpenAI's own type for a bad key (code invalid_api_key)
    402: "insufficient_quota",
    429: "requests",  # OpenAI's type for request-rate limits
}


# -- errors -------------------------------------------------------------------


def error_response(error: ApiError) -> JsonResponse:
    """OpenAI's envelope, with the statuses the SDK maps to its exception classes."""
    # OpenAI answers every invalid parameter with 400 (BadRequestError); the
    # core's 422 for field validation becomes that here, so code written
    # against OpenAI catches our validation errors where it catches theirs.
    status = 400 if error.status == 422 else error.status
    if status >= 500 or status == 455:
        kind = "server_error"
    else:
        kind = ERROR_TYPES.get(status, "invalid_request_error")
    body = {"message": error.message, "type": kind, "param": error.param, "code": error.code}
    response = JsonResponse({"error": body}, status=status)
    if status == 505:
        # No provider serves the model: the SDK retries 5xx, and retrying can't help.
        response["x-should-retry"] = "false"
    return response


def video_not_found(video_id: str) -> ApiError:
    return ApiError(404, f"Video {video_id} not found.", code="not_found", param="video_id")


@contextmanager
def named_as_sent(aliases: dict[str, str]) -> Iterator[None]:
    """Validation errors name what the client sent (`seconds`, not `duration`)."""
    try:
        yield
    except catalog.UnknownModel:
        raise  # a ValidationFailed too, about `model`, which needs no renaming
    except catalog.ValidationFailed as exc:
        named: dict[str, list[str]] = {}
        for field, messages in exc.errors.items():
            named.setdefault(aliases.get(field, field), []).extend(messages)
        raise catalog.ValidationFailed(named) from None


# -- the Video object ---------------------------------------------------------


def unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def render_params(generation: Generation) -> dict[str, Any] | None:
    try:
        return catalog.get_spec(generation.model_id).render_params(generation.input)
    except (catalog.UnknownModel, KeyError, TypeError, ValueError):
        return None  # the spec changed since; describe what the row knows


def seconds_text(value: float) -> str:
    return format(Decimal(repr(float(value))).normalize(), "f")


def video_object(generation: Generation) -> dict[str, Any]:
    params = render_params(generation)
    if generation.width and generation.height:
        size = f"{generation.width}x{generation.height}"
    elif params is not None:
        size = openai_sizes.size_of(catalog.get_spec(generation.model_id), generation.input)
    else:
        size = ""
    if params is not None:
        seconds = seconds_text(params["duration"])
    else:
        seconds = seconds_text(generation.duration) if generation.duration else ""
    sent = generation.request if isinstance(generation.request, dict) else {}
    remixed_from = generation.remixed_from.task_id if generation.remixed_from_id else None
    error = None
    if generation.state == Generation.FAIL:
        error = {
            "code": generation.fail_code or "generation_failed",
            "message": generation.fail_msg or "The generation failed.",
        }
    return {
        "id": generation.task_id,
        "object": "video",
        "model": generation.model_name or generation.model_id,
        "status": STATES[generation.state],
        "progress": 100 if generation.state == Generation.SUCCESS else generation.progress,
        "created_at": unix(generation.created_at),
        "completed_at": unix(generation.completed_at),
        "expires_at": None,  # results are kept until deleted
        "seconds": seconds,
        "size": size,
        "prompt": (params or {}).get("prompt") or generation.prompt or None,
        # A remix keeps naming its source after the source is deleted.
        "remixed_from_video_id": remixed_from or sent.get("remixed_from_video_id"),
        "error": error,
    }


def video_response(generation: Generation) -> JsonResponse:
    response = JsonResponse(video_object(generation))
    if not generation.is_finished:
        # poll() (and create_and_poll) waits this long between retrieves.
        response["openai-poll-after-ms"] = str(settings.OPENAI_POLL_AFTER_MS)
    return response


def video_list(page: list[Generation], *, has_more: bool) -> dict[str, Any]:
    data = [video_object(generation) for generation in page]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def deleted(generation: Generation) -> dict[str, Any]:
    return {"id": generation.task_id, "object": "video.deleted", "deleted": True}


# -- reading requests ---------------------------------------------------------


def form_values(post) -> dict[str, Any]:
    """A form as the SDK encodes it: `key[]` for lists, `key[sub]` for objects."""
    values: dict[str, Any] = {}
    for key in post:
        items = post.getlist(key)
        nested = NESTED_KEY.match(key)
        if key.endswith("[]"):
            values[key[:-2]] = items
        elif nested:
            parent = values.get(nested[1])
            if not isinstance(parent, dict):
                parent = values[nested[1]] = {}
            parent[nested[2]] = items[-1]
        else:
            values[key] = items if len(items) > 1 else items[-1]
    return values


def form_typed(spec: ModelSpec, input: dict[str, Any]) -> dict[str, Any]:
    """Form values are all text: switches back to booleans, one URL to a list."""
    typed = dict(input)
    for field in spec.fields:
        value = typed.get(field.name)
        if field.type == "switch" and isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                typed[field.name] = True
            elif word in FALSE_WORDS:
                typed[field.name] = False
        elif field.type == "image_urls" and isinstance(value, str) and value.strip():
            typed[field.name] = [value]
    return typed


def same_value(given: Any, value: Any) -> bool:
    return str(given).strip() == str(value).strip()


def put(input: dict, field: str, value: Any, param: str, aliases: dict[str, str]) -> None:
    """Set a model field from an OpenAI parameter, refusing a different value set directly."""
    if field in input and not is_blank(input[field]) and not same_value(input[field], value):
        raise ApiError(
            400,
            f"{param} and {field} disagree ({value!r} and {input[field]!r}); send one of them.",
            param=param,
        )
    input[field] = value
    aliases[field] = param


def model_input(spec: ModelSpec, body: dict, *, form: bool) -> tuple[dict, dict[str, str]]:
    """The model's input from OpenAI's parameters and the extra keys beside them.

    Returns it with the model fields that came from OpenAI parameters, so a
    validation message names what the client sent (`seconds`, not `duration`).
    """
    input = {key: value for key, value in body.items() if key not in PARAMS}
    if form:
        input = form_typed(spec, input)
    aliases: dict[str, str] = {}

    prompt = body.get("prompt")
    if not is_blank(prompt):
        if spec.render.prompt.field is None:
            raise ApiError(400, f"{spec.id} takes no prompt.", param="prompt")
        put(input, spec.render.prompt.field, prompt, "prompt", aliases)

    seconds = body.get("seconds")
    if not is_blank(seconds):
        duration = spec.render.duration
        if duration.field is not None:
            put(input, duration.field, seconds, "seconds", aliases)
        elif not same_value(seconds, duration.default):
            raise ApiError(
                400, f"{spec.id} makes {duration.default} s videos only.", param="seconds"
            )

    size = body.get("size")
    if not is_blank(size):
        given = {key: value for key, value in input.items() if not is_blank(value)}
        try:
            fields = openai_sizes.fields_for_size(spec, size, given)
        except openai_sizes.SizeError as exc:
            raise ApiError(400, str(exc), param="size", code="invalid_size") from None
        input.update(fields)
        aliases.update(dict.fromkeys(fields, "size"))
    return input, aliases


def parse_create(body: dict, *, form: bool) -> tuple[ModelSpec, Submission, dict[str, str]]:
    """The create body without its input_reference: (the model's spec, what to
    submit, which model fields came from which OpenAI parameters)."""
    model = body.get("model")
    if is_blank(model):
        model = settings.OPENAI_DEFAULT_MODEL
    elif not isinstance(model, str):
        raise ApiError(400, "model must be a string.", param="model")
    spec = catalog.get_spec(model)
    input, aliases = model_input(spec, body, form=form)
    sent = {key: value for key, value in body.items() if key != "input_reference"}
    sent["model"] = model
    return spec, Submission(model=model, input=input, request=sent), aliases


# -- input_reference ----------------------------------------------------------


def image_field(spec: ModelSpec) -> FieldSpec | None:
    return next((f for f in spec.fields if f.type in IMAGE_FIELD_TYPES), None)


def reference_field(spec: ModelSpec) -> FieldSpec:
    field = image_field(spec)
    if field is None:
        takers = [other.id for other in catalog.all_specs() if image_field(other) is not None]
        raise ApiError(
            400,
            f"{spec.id} takes no image, so input_reference cannot be used with it; "
            f"these models take one: {', '.join(takers)}.",
            param="input_reference",
        )
    return field


def reference_object(reference: Any) -> dict:
    """A JSON `input_reference` as {"image_url": ...} or {"file_id": ...}."""
    if isinstance(reference, str):
        reference = {"image_url": reference}
    if not isinstance(reference, dict) or len(reference.keys() & {"image_url", "file_id"}) != 1:
        raise ApiError(
            400,
            'input_reference must be an image file, {"image_url": ...} or {"file_id": ...}.',
            param="input_reference",
        )
    return reference


def set_reference(
    field: FieldSpec, submission: Submission, aliases: dict[str, str], url: str, recorded: dict
) -> None:
    """Put the reference image's URL on the model's image field (reference_field),
    and record how it was sent: never the bytes, an upload's file_id instead."""
    submission.request["input_reference"] = recorded
    value = [url] if field.type == "image_urls" else url
    put(submission.input, field.name, value, "input_reference", aliases)


def parse_remix(source: Generation, body: dict) -> tuple[Submission, dict[str, str]]:
    """A remix: the source's model and input with a new prompt, nothing else."""
    others = sorted(set(body) - {"prompt"})
    if others:
        raise ApiError(
            400,
            "A remix takes only a new prompt; it keeps the model and parameters of "
            f"{source.task_id} (got {', '.join(others)}).",
            param=others[0],
        )
    prompt = body.get("prompt")
    if is_blank(prompt) or not isinstance(prompt, str):
        raise ApiError(400, "prompt is required: the remix's new prompt.", param="prompt")
    if source.state != Generation.SUCCESS:
        raise ApiError(
            400,
            f"Video {source.task_id} is {STATES[source.state]}; only completed videos "
            "can be remixed.",
            param="video_id",
        )
    spec = catalog.get_spec(source.model_id)
    prompt_field = spec.render.prompt.field
    if prompt_field is None:
        raise ApiError(400, f"{spec.id} takes no prompt, so it cannot be remixed.")
    submission = Submission(
        model=source.model_name or source.model_id,
        input={**source.input, prompt_field: prompt},
        request={"prompt": prompt, "remixed_from_video_id": source.task_id},
    )
    return submission, {prompt_field: "prompt"}


def page_size(raw: str | None) -> int:
    raw = raw or "20"
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(
            400, f"limit must be a whole number from 1 to {MAX_PAGE} (got {raw!r}).", param="limit"
        )
    return limit


def page_order(raw: str | None) -> str:
    order = raw or "desc"
    if order not in ("asc", "desc"):
        raise ApiError(400, f"order must be asc or desc (got {order!r}).", param="order")
    return order


def check_deletable(generation: Generation) -> None:
    if not generation.is_finished:
        raise ApiError(
            400,
            f"Video {generation.task_id} is {STATES[generation.state]}; "
            "a video can be deleted once it has completed or failed.",
            param="video_id",
        )


def content_file(generation: Generation, variant: str):
    """The stored file a content download asks for (maybe empty), or the reason there is none.

    Never a 200 whose body is an error: no file, no 200.
    """
    if variant not in VARIANTS:
        raise ApiError(
            400, f"variant must be video or thumbnail (got {variant!r}).", param="variant"
        )
    if generation.state == Generation.FAIL:
        raise ApiError(
            404,
            f"Video {generation.task_id} failed and has no content: {generation.fail_msg}",
            code="video_failed",
        )
    if generation.state != Generation.SUCCESS:
        raise ApiError(
            404,
            "Video is not ready yet; use GET /v1/videos/{video_id} to check its status.",
            code="video_not_ready",
        )
    return getattr(generation, VARIANTS[variant])


# -- OpenAPI --------------------------------------------------------------------

STATUS_SCHEMA = {"type": "string", "enum": list(dict.fromkeys(STATES.values()))}
ERROR_SCHEMA = obj(
    ["error"],
    error=obj(
        ["message", "type", "param", "code"],
        message=STRING,
        type=STRING,
        param=NULLABLE_STRING,
        code=NULLABLE_STRING,
    ),
)
ERROR_TEXT = {
    400: "Invalid request: a bad parameter or model field (param names it).",
    401: "The API key is missing or invalid.",
    402: "Not enough credits (code insufficient_quota).",
    404: "No such video (or another team's), or its content is not ready yet.",
    405: "Method not allowed.",
    413: "Request too large: a JSON body over 2.5 MB (send input_reference as a file), "
    "or a form with too many fields or files.",
    429: "Rate limited, or too many unfinished videos.",
    455: "Service unavailable: maintenance.",
    500: "Server error.",
    505: "No provider serves the model now.",
}
VIDEO_ID_IN_PATH = path_param("video_id", "The video's id, as create returned it.")


def errors(*codes: int) -> dict:
    return {
        str(code): {
            "description": ERROR_TEXT[code],
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for code in codes
    }


def video_schema() -> dict:
    return obj(
        ["id", "object", "model", "status", "progress", "created_at", "seconds", "size"],
        id=STRING,
        object={"type": "string", "const": "video"},
        model=STRING,
        status=STATUS_SCHEMA,
        progress={"type": "integer", "minimum": 0, "maximum": 100},
        created_at=INTEGER,
        completed_at=NULLABLE_INTEGER,
        expires_at={"type": "null", "description": "Results are kept until deleted."},
        seconds={**STRING, "examples": ["5"]},
        size={**STRING, "examples": ["1280x720"]},
        prompt=NULLABLE_STRING,
        remixed_from_video_id=NULLABLE_STRING,
        error={"oneOf": [{"type": "null"}, obj(["code", "message"], code=STRING, message=STRING)]},
    )


def video_links() -> dict[str, dict]:
    """From a created video to the calls that take its id."""
    video_id = {"video_id": "$response.body#/id"}
    return {
        "openaiRetrieveVideo": link("openaiRetrieveVideo", "Its status.", parameters=video_id),
        "openaiDownloadVideoContent": link(
            "openaiDownloadVideoContent", "Its MP4, once completed.", parameters=video_id
        ),
        "openaiRemixVideo": link("openaiRemixVideo", "Remix it.", parameters=video_id),
        "openaiDeleteVideo": link("openaiDeleteVideo", "Delete it.", parameters=video_id),
    }


def paths() -> dict:
    fields = {
        "model": {**STRING, "description": "A model id or alias; OPENAI_DEFAULT_MODEL if none."},
        "prompt": STRING,
        "seconds": {**STRING, "description": "The model's duration.", "examples": ["5"]},
        "size": {**STRING, "description": "WIDTHxHEIGHT the model makes.", "examples": ["854x480"]},
    }
    reference = {
        "oneOf": [
            {**STRING, "description": "An image URL."},
            obj(["image_url"], image_url={**STRING, "description": "http(s) or base64 data: URL"}),
            obj(["file_id"], file_id={**STRING, "description": "The fileId of an upload."}),
        ]
    }
    create_body = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        **fields,
                        "input_reference": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                            "description": "A start image file: JPEG, PNG or WebP.",
                        },
                    },
                    "additionalProperties": {"type": "string"},
                    "description": "Other keys are the model's own fields (see its schema).",
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {**fields, "input_reference": reference},
                    "additionalProperties": True,
                    "description": "Other keys are the model's own fields (see its schema).",
                },
                "example": {"model": "kling/v2-1", "prompt": "A red fox", "size": "854x480"},
            },
        },
    }
    tags = ["OpenAI videos"]
    video_ok = ok(video_schema())
    optional = {"in": "query", "required": False}
    return {
        "/v1/videos": {
            "post": {
                "operationId": "openaiCreateVideo",
                "tags": tags,
                "summary": "Create a video (the openai SDK's client.videos.create)",
                "requestBody": create_body,
                "responses": {
                    **with_links(video_ok, 200, **video_links()),
                    **errors(400, 401, 402, 413, 429, 455, 500, 505),
                },
            },
            "get": {
                "operationId": "openaiListVideos",
                "tags": tags,
                "summary": "The team's videos made through this contract, by cursor",
                "parameters": [
                    {"name": "after", **optional, "schema": STRING},
                    {
                        "name": "limit",
                        **optional,
                        "schema": {**INTEGER, "minimum": 1, "maximum": 100},
                    },
                    {
                        "name": "order",
                        **optional,
                        "schema": {"type": "string", "enum": ["asc", "desc"]},
                    },
                ],
                "responses": {
                    **ok(
                        obj(
                            ["object", "data", "first_id", "last_id", "has_more"],
                            object={"type": "string", "const": "list"},
                            data={"type": "array", "items": video_schema()},
                            first_id=NULLABLE_STRING,
                            last_id=NULLABLE_STRING,
                            has_more={"type": "boolean"},
                        )
                    ),
                    **errors(400, 401, 429, 455, 500),
                },
            },
        },
        "/v1/videos/{video_id}": {
            "get": {
                "operationId": "openaiRetrieveVideo",
                "tags": tags,
                "summary": "A video's status (openai-poll-after-ms says when to ask again)",
                "parameters": [VIDEO_ID_IN_PATH],
                "responses": {**video_ok, **errors(401, 404, 429, 455, 500)},
            },
            "delete": {
                "operationId": "openaiDeleteVideo",
                "tags": tags,
                "summary": "Delete a completed or failed video and its files (not its charge)",
                "parameters": [VIDEO_ID_IN_PATH],
                "responses": {
                    **ok(
                        obj(
                            ["id", "object", "deleted"],
                            id=STRING,
                            object={"type": "string", "const": "video.deleted"},
                            deleted={"type": "boolean"},
                        )
                    ),
                    **errors(400, 401, 404, 429, 455, 500),
                },
            },
        },
        "/v1/videos/{video_id}/content": {
            "get": {
                "operationId": "openaiDownloadVideoContent",
                "tags": tags,
                "summary": "The MP4, or its poster with variant=thumbnail",
                "parameters": [
                    VIDEO_ID_IN_PATH,
                    {
                        "name": "variant",
                        **optional,
                        "schema": {"type": "string", "enum": ["video", "thumbnail"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file.",
                        "content": {
                            media: {"schema": {"type": "string", "contentMediaType": media}}
                            for media in ("video/mp4", "image/jpeg", "image/png", "image/webp")
                        },
                    },
                    **errors(400, 401, 404, 429, 455, 500),
                },
            }
        },
        "/v1/videos/{video_id}/remix": {
            "post": {
                "operationId": "openaiRemixVideo",
                "tags": tags,
                "summary": "A new video: the same model and parameters, a new prompt",
                "parameters": [VIDEO_ID_IN_PATH],
                "requestBody": json_body(obj(["prompt"], prompt=STRING), {"prompt": "At night"}),
                "responses": {
                    **with_links(video_ok, 200, **video_links()),
                    **errors(400, 401, 402, 404, 413, 429, 455, 500, 505),
                },
            }
        },
    }
