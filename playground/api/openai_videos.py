"""Views of the OpenAI videos contract (playground/contracts/openai.py).

What touches storage or the database stays here: reading a multipart body
through the metered upload handler, storing an `input_reference` image as an
upload, the team's list and the soft delete.
"""

import mimetypes
from pathlib import PurePosixPath
from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

from playground import base64data, keyset, services, uploads
from playground.api.auth import api_view, read_json
from playground.api.lookup import team_generation
from playground.api.submit import submit_from
from playground.api.uploads import MULTIPART_OVERHEAD, refuse_oversized
from playground.catalog.values import is_blank
from playground.contracts import openai
from playground.contracts.errors import ApiError
from playground.contracts.wire import plausible_id, request_base_url
from playground.models import Generation, Upload

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
REFERENCE_NAME = "input_reference"


def openai_api(*methods: str):
    return api_view(methods=methods, render_error=openai.error_response)


def team_video(request: HttpRequest, video_id: str) -> Generation:
    return team_generation(request, video_id, openai.video_not_found, include_deleted=False)


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
    return openai.form_values(post), files.get(file_field) if file_field else None, True


def stored(request: HttpRequest, source, name: str) -> tuple[str, dict]:
    try:
        upload = uploads.store_upload(
            request.user, source, original_name=name, kinds=(uploads.IMAGE,)
        )
    except uploads.UploadRefused as exc:
        raise ApiError(400, str(exc), param=REFERENCE_NAME, code="invalid_file") from None
    return upload.public_url(request_base_url(request)), {"file_id": upload.file_id}


def stored_data_url(request: HttpRequest, url: str) -> tuple[str, dict]:
    name = f"{REFERENCE_NAME}.image_url"
    try:
        text = base64data.base64_text(url, name)
        with uploads.spooled(base64data.decoded_slices(text, name), (uploads.IMAGE,)) as path:
            return stored(request, path, REFERENCE_NAME)
    except base64data.Base64Error as exc:
        raise ApiError(400, str(exc), param=REFERENCE_NAME) from None
    except uploads.UploadRefused as exc:
        raise ApiError(400, str(exc), param=REFERENCE_NAME, code="invalid_file") from None


def reference_url(request: HttpRequest, reference: Any) -> tuple[str, dict]:
    """The image URL for `input_reference` (a file, {image_url} or {file_id}) and how
    to record it in the request: never the bytes, an upload's file_id instead."""
    if isinstance(reference, UploadedFile):
        return stored(request, reference, reference.name or REFERENCE_NAME)
    reference = openai.reference_object(reference)
    if "file_id" in reference:
        file_id = reference["file_id"]
        upload = Upload.objects.filter(
            file_id=str(file_id), team_id=request.user.profile.team_id
        ).first()
        if upload is None:
            raise ApiError(400, f"No upload has file_id {file_id!r}.", param=REFERENCE_NAME)
        if not upload.mime_type.startswith("image/"):
            raise ApiError(
                400,
                f"Upload {file_id} is not an image ({upload.mime_type}).",
                param=REFERENCE_NAME,
            )
        return upload.public_url(request_base_url(request)), {"file_id": upload.file_id}
    url = reference["image_url"]
    if isinstance(url, str) and base64data.is_data_url(url):
        return stored_data_url(request, url)
    return url, {"image_url": url}


@openai_api("GET", "POST")
def videos(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return list_videos(request)
    return create(request)


def create(request: HttpRequest) -> JsonResponse:
    body, file, form = read_body(request, file_field=REFERENCE_NAME)
    try:
        spec, submission, aliases = openai.parse_create(body, form=form)
        reference = file if file is not None else body.get(REFERENCE_NAME)
        if not is_blank(reference):
            field = openai.reference_field(spec)
            url, recorded = reference_url(request, reference)
            openai.set_reference(field, submission, aliases, url, recorded)
        with openai.named_as_sent(aliases):
            generation = submit_from(request, submission, contract=openai.NAME)
    finally:
        if file is not None:
            file.close()  # deletes the temporary file
    return openai.video_response(generation)


def list_videos(request: HttpRequest) -> JsonResponse:
    """The team's videos created through this contract, newest first unless order=asc.

    Only this contract's: the list is what an OpenAI client made, so each
    entry is one it can retrieve, remix and delete as its own, and the
    team's playground and jobs-contract work stays in the gallery. Any team
    video is still retrieved by id, as every contract's status call does.
    """
    limit = openai.page_size(request.GET.get("limit"))
    order = openai.page_order(request.GET.get("order"))
    # Served by the gen_team_recent index (team, -created_at); the contract
    # and the keyset bound filter within that range.
    rows = Generation.objects.filter(
        team_id=request.user.profile.team_id, contract=openai.NAME, deleted_at__isnull=True
    ).select_related("remixed_from")
    after = request.GET.get("after")
    anchor = None
    if after:
        anchor = (
            rows.filter(task_id=after).values_list("created_at", "pk").first()
            if plausible_id(after)
            else None
        )
        if anchor is None:
            raise ApiError(400, f"after: no video {after} in this list.", param="after")
    page, more = keyset.rows_beside(rows, anchor, size=limit, newer=order == "asc")
    return JsonResponse(openai.video_list(page, has_more=more))


@openai_api("GET", "DELETE")
def video(request: HttpRequest, video_id: str) -> JsonResponse:
    generation = team_video(request, video_id)
    if request.method == "DELETE":
        return delete(generation)
    return openai.video_response(generation)


def delete(generation: Generation) -> JsonResponse:
    """Remove the video's files. The row stays, marked deleted, as the record of
    what was made and charged (the gallery's totals, the ledger's references);
    this contract answers 404 for it from now on."""
    openai.check_deletable(generation)
    # Only while finished and not yet deleted: a concurrent delete loses here.
    if not services.delete(generation):
        raise ApiError(404, f"Video {generation.task_id} not found.", code="not_found")
    return JsonResponse(openai.deleted(generation))


@openai_api("GET")
def content(request: HttpRequest, video_id: str) -> FileResponse:
    generation = team_video(request, video_id)
    variant = request.GET.get("variant") or "video"
    file = openai.content_file(generation, variant)
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
    submission, aliases = openai.parse_remix(source, body)
    with openai.named_as_sent(aliases):
        generation = submit_from(request, submission, contract=openai.NAME, remixed_from=source)
    return openai.video_response(generation)
