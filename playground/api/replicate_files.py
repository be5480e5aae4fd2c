"""Replicate's files API: where the `replicate` client sends a model's file inputs.

    POST   /v1/files             create: multipart, the file in the part `content`,
                                 optional `metadata` (a JSON object) and `filename`
    GET    /v1/files             the team's files, newest first, by cursor
    GET    /v1/files/{file_id}   get
    DELETE /v1/files/{file_id}   delete: 204, and 404 from then on

The client uploads every open file or Path in a prediction's input here and
sends the answer's `urls.get` in its place. So `urls.get` is the upload's own
storage URL, the `fileUrl` of the Kie upload endpoints: every contract takes
it as an image or video input, and the engine reads it from storage.

A file is an upload like any other (playground/uploads.py): the same types and
limits, judged by content, so `content_type` is what the bytes are, whatever
the client said (its `type` field is ignored). Its id is the upload's
`file_id`, the one OpenAI's `input_reference` takes too. The team shares its
files, as it shares its predictions; another team's id is not found.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from playground import uploads
from playground.api.auth import parse_json
from playground.api.common import plausible_id
from playground.api.errors import ApiError, field_errors
from playground.api.replicate_predictions import iso, keyset_page, replicate_api
from playground.api.uploads import file_url, multipart_file
from playground.models import Upload

CONTENT = "content"
# Kept in the upload's row: small, unlike the file.
METADATA_MAX_BYTES = 64 * 1024


def file_object(upload: Upload, request: HttpRequest) -> dict[str, Any]:
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
        "urls": {"get": file_url(upload, request)},
    }


def not_found(file_id: str) -> ApiError:
    return ApiError(404, f"File {file_id} not found.", code="not_found")


def team_file(request: HttpRequest, file_id: str) -> Upload:
    """The team's upload with this id; 404 for any other, another team's too."""
    upload = (
        Upload.objects.filter(file_id=file_id, team_id=request.user.profile.team_id).first()
        if plausible_id(file_id)
        else None
    )
    if upload is None:
        raise not_found(file_id)
    return upload


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


def create(request: HttpRequest) -> JsonResponse:
    content, fields = multipart_file(request, CONTENT)
    try:
        metadata = metadata_from(fields.get("metadata"))
        name = (fields.get("filename") or "").strip() or content.name or ""
        upload = uploads.store_upload(request.user, content, original_name=name, metadata=metadata)
    except uploads.UploadRefused as exc:
        raise field_errors({CONTENT: [str(exc)]}) from None
    finally:
        content.close()  # deletes the temporary file
    return JsonResponse(file_object(upload, request), status=201)


def list_files(request: HttpRequest) -> JsonResponse:
    """The team's uploads, whichever API or page they came through, newest first."""
    # Served by the upload_team_recent index (team, -created_at).
    rows = Upload.objects.filter(team_id=request.user.profile.team_id)
    page, links = keyset_page(request, rows, "file_id", "replicate-files")
    return JsonResponse({**links, "results": [file_object(upload, request) for upload in page]})


@replicate_api("GET", "POST")
def files(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return create(request)
    return list_files(request)


@replicate_api("GET", "DELETE")
def file_detail(request: HttpRequest, file_id: str) -> HttpResponse:
    upload = team_file(request, file_id)
    if request.method == "DELETE":
        if not uploads.delete_upload(upload):
            raise not_found(file_id)  # a concurrent delete or the sweeper came first
        response = HttpResponse(status=204)
        del response["Content-Type"]  # no body, so no type
        return response
    return JsonResponse(file_object(upload, request))
