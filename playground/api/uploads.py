"""The three Kie-style upload endpoints: multipart stream, base64 JSON, and a URL to fetch.

Each answers with the same `data` (contracts.jobs.upload_data): the fields
of both shapes Kie documents for its upload results. The returned `fileUrl`
goes straight into createTask as `image_url`, `image_urls` or `motion_video`.
`uploadPath` is accepted for compatibility and ignored: every upload is
stored under an unguessable path.
"""

import json
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError

from playground import base64data, outbound, uploads
from playground.api.auth import read_json, require_json_type
from playground.api.jobs import kie_api
from playground.contracts import jobs
from playground.contracts.errors import ApiError, field_errors
from playground.contracts.wire import optional_string, request_base_url

# Room for the multipart boundaries and the small text fields beside the file.
MULTIPART_OVERHEAD = 1024 * 1024
# Room for `data:<mime>;base64,`, fileName, uploadPath and the JSON around them.
JSON_OVERHEAD = 64 * 1024
# A URL upload may take this long in all, however slowly the server sends.
FETCH_TOTAL_SECONDS = 120


def store(request: HttpRequest, field: str, source, original_name: str) -> JsonResponse:
    try:
        upload = uploads.store_upload(request.user, source, original_name=original_name)
    except uploads.UploadRefused as exc:
        raise field_errors({field: [str(exc)]}) from None
    return jobs.envelope(jobs.upload_data(upload, request_base_url(request)))


def declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        raise ApiError(400, "The Content-Length header is not a number.") from None


def refuse_oversized(request: HttpRequest, field: str, limit: int, overhead: int) -> None:
    """Refuse a body whose declared length alone is over the limit, before reading any of it."""
    if declared_length(request) > limit + overhead:
        message = f"The file is too large: uploads may be at most {outbound.human_size(limit)}."
        raise field_errors({field: [message]})


def text_fields(data, names: tuple[str, ...]) -> dict[str, str]:
    return {name: optional_string(data, name) for name in names}


def multipart_file(request: HttpRequest, field: str) -> tuple[UploadedFile, QueryDict]:
    """The file in `field` of a multipart body, metered as it arrives, and the
    body's text fields. The caller closes the file (which deletes it)."""
    if request.content_type != "multipart/form-data":
        raise ApiError(
            400, f"Send the file as multipart/form-data, in the field '{field}'.", param=field
        )
    refuse_oversized(request, field, uploads.largest_limit(), MULTIPART_OVERHEAD)
    handler = uploads.LimitedUploadHandler(request, field=field)
    request.upload_handlers = [handler]
    try:
        files, post = request.FILES, request.POST
    except MultiPartParserError as exc:
        # Too many fields or files, or text fields over the memory limit,
        # pass through to the one 413 of every contract (errors.from_request_limits).
        raise ApiError(400, f"The multipart body could not be read: {exc}") from None
    if handler.refused is not None:
        raise field_errors({field: [str(handler.refused)]})
    uploaded = files.get(field)
    if uploaded is None:
        if post.get(field):
            raise field_errors({field: ["Send a file here, not text."]})
        raise field_errors({field: ["This field is required."]})
    return uploaded, post


@kie_api("POST")
def file_stream_upload(request: HttpRequest) -> JsonResponse:
    """multipart/form-data: `file`, optional `fileName` and `uploadPath`."""
    uploaded, post = multipart_file(request, "file")
    names = text_fields(post, ("fileName", "uploadPath"))
    try:
        return store(request, "file", uploaded, names["fileName"] or uploaded.name)
    finally:
        uploaded.close()  # deletes the temporary file


def read_json_up_to(request: HttpRequest, max_bytes: int) -> dict:
    """The JSON object in the body, refusing bodies over `max_bytes` without reading on.

    Not `read_json`: `request.body` is capped by DATA_UPLOAD_MAX_MEMORY_SIZE
    (2.5 MB), too small for a base64 image, so the stream is read directly
    within our own bound.
    """
    require_json_type(request)
    raw = request.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise field_errors({"base64Data": [too_large_for_base64()]})
    if not raw:
        raise ApiError(400, "The request body is empty; send a JSON object.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Malformed JSON in the request body: {exc}.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def too_large_for_base64() -> str:
    return (
        f"The file is too large: base64 uploads may be at most {settings.UPLOAD_MAX_IMAGE_MB} MB; "
        "send larger videos with /api/file-stream-upload or /api/file-url-upload."
    )


@kie_api("POST")
def file_base64_upload(request: HttpRequest) -> JsonResponse:
    """JSON `{base64Data, fileName?, uploadPath?}`; base64Data bare or as a data: URI."""
    # The JSON body is held in memory, so base64 uploads stop at the image limit.
    limit = settings.UPLOAD_MAX_IMAGE_MB * 1024 * 1024
    max_body = (limit + 2) // 3 * 4 + JSON_OVERHEAD
    if declared_length(request) > max_body:
        raise field_errors({"base64Data": [too_large_for_base64()]})
    body = read_json_up_to(request, max_body)
    names = text_fields(body, ("fileName", "uploadPath"))
    value = body.get("base64Data")
    if not isinstance(value, str) or not value.strip():
        raise field_errors({"base64Data": ["This field is required."]})
    try:
        text = base64data.base64_text(value, "base64Data")
        if base64data.decoded_size(text) > limit:
            raise field_errors({"base64Data": [too_large_for_base64()]})
        with uploads.spooled(base64data.decoded_slices(text, "base64Data")) as path:
            return store(request, "base64Data", path, names["fileName"])
    except base64data.Base64Error as exc:
        raise ApiError(400, str(exc), param="base64Data") from None
    except uploads.UploadRefused as exc:
        raise field_errors({"base64Data": [str(exc)]}) from None


def name_in_url(url: str) -> str:
    try:
        return unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    except ValueError:
        return ""


@kie_api("POST")
def file_url_upload(request: HttpRequest) -> JsonResponse:
    """JSON `{fileUrl, fileName?, uploadPath?}`: we fetch the file, behind the SSRF guard."""
    body = read_json(request)
    names = text_fields(body, ("fileName", "uploadPath"))
    url = body.get("fileUrl")
    if not isinstance(url, str) or not url.strip():
        raise field_errors({"fileUrl": ["This field is required."]})
    url = url.strip()
    types = frozenset(uploads.limits())
    temp_root = uploads.temp_dir()
    with tempfile.TemporaryDirectory(dir=temp_root, prefix="reelgate-fetch-") as folder:
        try:
            fetched = outbound.fetch_to_file(
                url,
                Path(folder) / "body",
                max_bytes=uploads.largest_limit(),
                allowed_types=types,
                total_timeout=FETCH_TOTAL_SECONDS,
            )
        except outbound.UnsafeURL as exc:
            raise field_errors({"fileUrl": [str(exc)]}) from None
        except outbound.FetchError as exc:
            raise ApiError(400, f"Could not fetch fileUrl: {exc}", param="fileUrl") from None
        return store(request, "fileUrl", fetched.path, names["fileName"] or name_in_url(url))
