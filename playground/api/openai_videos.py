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

import base64
import binascii
import io
import logging
import mimetypes
import re
from datetime import datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.http import FileResponse, HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone

from playground import catalog, services, uploads
from playground.api import openai_sizes
from playground.api.auth import api_view, read_json
from playground.api.common import plausible_id, request_base_url
from playground.api.errors import ApiError
from playground.api.uploads import MULTIPART_OVERHEAD, file_url, refuse_oversized
from playground.catalog import FieldSpec, ModelSpec
from playground.catalog.values import is_blank
from playground.models import Generation, Upload
from playground.storage import delete_files

log = logging.getLogger(__name__)

NAME = "openai"
STATES = {
    Generation.WAITING: "queued",
    Generation.QUEUING: "queued",
    Generation.GENERATING: "in_progress",
    Generation.SUCCESS: "completed",
    Generation.FAIL: "failed",
}
PARAMS = ("model", "prompt", "seconds", "size", "input_reference")
IMAGE_FIELD_TYPES = ("image_url", "image_urls")
VARIANTS = {"video": "video", "thumbnail": "poster"}
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
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


def openai_api(*methods: str):
    return api_view(methods=methods, render_error=error_response)


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


def team_video(request: HttpRequest, video_id: str) -> Generation:
    """The team's generation with this id, whichever contract made it; 404 otherwise."""
    generation = (
        Generation.objects.filter(
            task_id=video_id, team_id=request.user.profile.team_id, deleted_at__isnull=True
        )
        .select_related("remixed_from")
        .first()
        if plausible_id(video_id)
        else None
    )
    if generation is None:
        raise ApiError(404, f"Video {video_id} not found.", code="not_found", param="video_id")
    return generation


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


def read_body(request: HttpRequest, file_field: str = "") -> tuple[dict, UploadedFile | None, bool]:
    """(fields, the uploaded file in `file_field` or None, whether it came as a form)."""
    # A body over Django's limits is the 413 of every contract
    # (errors.from_request_limits); an image too large for JSON goes as a
    # file in multipart/form-data.
    if request.content_type not in FORM_TYPES:
        return read_json(request), None, False
    handler = None
    if file_field:
        refuse_oversized(
            request, file_field, uploads.largest_limit((uploads.IMAGE,)), MULTIPART_OVERHEAD
        )
        handler = uploads.LimitedUploadHandler(request, field=file_field, kinds=(uploads.IMAGE,))
        request.upload_handlers = [handler]
    try:
        post, files = request.POST, request.FILES
    except MultiPartParserError as exc:
        raise ApiError(400, f"The form body could not be read: {exc}") from None
    if handler is not None and handler.refused is not None:
        raise ApiError(400, str(handler.refused), param=file_field, code="invalid_file")
    return form_values(post), files.get(file_field) if file_field else None, True


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


def stored(request: HttpRequest, source, name: str) -> tuple[str, dict]:
    try:
        upload = uploads.store_upload(
            request.user, source, original_name=name, kinds=(uploads.IMAGE,)
        )
    except uploads.UploadRefused as exc:
        raise ApiError(400, str(exc), param="input_reference", code="invalid_file") from None
    return file_url(upload, request), {"file_id": upload.file_id}


def data_url_bytes(url: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise ApiError(
            400,
            "input_reference.image_url is a data: URL but not a base64 one; "
            "expected data:<mime type>;base64,<data>.",
            param="input_reference",
        )
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(
            400, f"input_reference.image_url is not valid base64: {exc}.", param="input_reference"
        ) from None


def reference_url(request: HttpRequest, reference: Any) -> tuple[str, Any]:
    """The image URL for `input_reference` (a file, {image_url} or {file_id}) and how
    to record it in the request: never the bytes, an upload's file_id instead."""
    if isinstance(reference, UploadedFile):
        return stored(request, reference, reference.name or "input_reference")
    if isinstance(reference, str):
        reference = {"image_url": reference}
    if not isinstance(reference, dict) or len(reference.keys() & {"image_url", "file_id"}) != 1:
        raise ApiError(
            400,
            'input_reference must be an image file, {"image_url": ...} or {"file_id": ...}.',
            param="input_reference",
        )
    if "file_id" in reference:
        file_id = reference["file_id"]
        upload = Upload.objects.filter(
            file_id=str(file_id), team_id=request.user.profile.team_id
        ).first()
        if upload is None:
            raise ApiError(400, f"No upload has file_id {file_id!r}.", param="input_reference")
        if not upload.mime_type.startswith("image/"):
            raise ApiError(
                400,
                f"Upload {file_id} is not an image ({upload.mime_type}).",
                param="input_reference",
            )
        return file_url(upload, request), {"file_id": upload.file_id}
    url = reference["image_url"]
    if isinstance(url, str) and url.strip()[:5].lower() == "data:":
        return stored(request, io.BytesIO(data_url_bytes(url.strip())), "input_reference")
    return url, {"image_url": url}


# -- the core -----------------------------------------------------------------


def submit(
    request: HttpRequest,
    *,
    model: str,
    input: dict,
    sent: dict,
    aliases: dict[str, str],
    remixed_from: Generation | None = None,
) -> Generation:
    try:
        return services.submit(
            user=request.user,
            model=model,
            input=input,
            contract=NAME,
            api_key=request.api_key,
            base_url=request_base_url(request),
            request=sent,
            idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
            remixed_from=remixed_from,
        )
    except catalog.UnknownModel:
        raise
    except catalog.ValidationFailed as exc:
        named: dict[str, list[str]] = {}
        for field, messages in exc.errors.items():
            named.setdefault(aliases.get(field, field), []).extend(messages)
        raise catalog.ValidationFailed(named) from None


# -- views --------------------------------------------------------------------


@openai_api("GET", "POST")
def videos(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return list_videos(request)
    return create(request)


def create(request: HttpRequest) -> JsonResponse:
    body, file, form = read_body(request, file_field="input_reference")
    try:
        model = body.get("model")
        if is_blank(model):
            model = settings.OPENAI_DEFAULT_MODEL
        elif not isinstance(model, str):
            raise ApiError(400, "model must be a string.", param="model")
        spec = catalog.get_spec(model)
        input, aliases = model_input(spec, body, form=form)
        sent = {key: value for key, value in body.items() if key != "input_reference"}
        sent["model"] = model
        reference = file if file is not None else body.get("input_reference")
        if not is_blank(reference):
            field = reference_field(spec)
            url, sent["input_reference"] = reference_url(request, reference)
            value = [url] if field.type == "image_urls" else url
            put(input, field.name, value, "input_reference", aliases)
        generation = submit(request, model=model, input=input, sent=sent, aliases=aliases)
    finally:
        if file is not None:
            file.close()  # deletes the temporary file
    return video_response(generation)


def page_size(request: HttpRequest) -> int:
    raw = request.GET.get("limit") or "20"
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(
            400, f"limit must be a whole number from 1 to {MAX_PAGE} (got {raw!r}).", param="limit"
        )
    return limit


def list_videos(request: HttpRequest) -> JsonResponse:
    """The team's videos created through this contract, newest first unless order=asc.

    Only this contract's: the list is what an OpenAI client made, so each
    entry is one it can retrieve, remix and delete as its own, and the
    team's playground and jobs-contract work stays in the gallery. Any team
    video is still retrieved by id, as every contract's status call does.
    """
    limit = page_size(request)
    order = request.GET.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise ApiError(400, f"order must be asc or desc (got {order!r}).", param="order")
    # Served by the gen_team_recent index (team, -created_at); the contract
    # and the keyset bound filter within that range.
    rows = Generation.objects.filter(
        team_id=request.user.profile.team_id, contract=NAME, deleted_at__isnull=True
    ).select_related("remixed_from")
    after = request.GET.get("after")
    if after:
        anchor = (
            rows.filter(task_id=after).values_list("created_at", "pk").first()
            if plausible_id(after)
            else None
        )
        if anchor is None:
            raise ApiError(400, f"after: no video {after} in this list.", param="after")
        created_at, pk = anchor
        if order == "desc":
            rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
        else:
            rows = rows.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk))
    ordering = ("-created_at", "-pk") if order == "desc" else ("created_at", "pk")
    page = list(rows.order_by(*ordering)[: limit + 1])
    data = [video_object(generation) for generation in page[:limit]]
    return JsonResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(page) > limit,
        }
    )


@openai_api("GET", "DELETE")
def video(request: HttpRequest, video_id: str) -> JsonResponse:
    generation = team_video(request, video_id)
    if request.method == "DELETE":
        return delete(generation)
    return video_response(generation)


def delete(generation: Generation) -> JsonResponse:
    """Remove the video's files. The row stays, marked deleted, as the record of
    what was made and charged (the gallery's totals, the ledger's references);
    this contract answers 404 for it from now on."""
    if not generation.is_finished:
        raise ApiError(
            400,
            f"Video {generation.task_id} is {STATES[generation.state]}; "
            "a video can be deleted once it has completed or failed.",
            param="video_id",
        )
    names = [file.name for file in (generation.video, generation.poster) if file]
    # Only while finished and not yet deleted: a concurrent delete loses here.
    marked = Generation.objects.filter(
        pk=generation.pk, state__in=Generation.FINISHED, deleted_at__isnull=True
    ).update(deleted_at=timezone.now(), video="", poster="")
    if not marked:
        raise ApiError(404, f"Video {generation.task_id} not found.", code="not_found")
    delete_files(*names)
    return JsonResponse({"id": generation.task_id, "object": "video.deleted", "deleted": True})


@openai_api("GET")
def content(request: HttpRequest, video_id: str) -> FileResponse:
    generation = team_video(request, video_id)
    variant = request.GET.get("variant") or "video"
    if variant not in VARIANTS:
        raise ApiError(
            400, f"variant must be video or thumbnail (got {variant!r}).", param="variant"
        )
    # Never a 200 whose body is an error: no file, no 200.
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
    file = getattr(generation, VARIANTS[variant])
    try:
        handle = default_storage.open(file.name, "rb") if file else None
    except OSError:
        handle = None
    if handle is None:
        raise ApiError(404, f"The {variant} of video {generation.task_id} is missing.")
    suffix = PurePosixPath(file.name).suffix
    content_type = "video/mp4" if variant == "video" else mimetypes.guess_type(file.name)[0]
    return FileResponse(
        handle,
        content_type=content_type or "application/octet-stream",
        filename=f"{generation.task_id}{suffix}",
    )


@openai_api("POST")
def remix(request: HttpRequest, video_id: str) -> JsonResponse:
    source = team_video(request, video_id)
    body, _, _ = read_body(request)
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
    generation = submit(
        request,
        model=source.model_name or source.model_id,
        input={**source.input, prompt_field: prompt},
        sent={"prompt": prompt, "remixed_from_video_id": source.task_id},
        aliases={prompt_field: "prompt"},
        remixed_from=source,
    )
    return video_response(generation)
