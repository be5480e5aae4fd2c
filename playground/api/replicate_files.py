"""Views of Replicate's files API: where the `replicate` client sends a model's file inputs.

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

from django.http import HttpRequest, HttpResponse, JsonResponse

from playground import uploads
from playground.api.replicate_predictions import keyset_page, replicate_api
from playground.api.uploads import multipart_file
from playground.contracts import replicate
from playground.contracts.errors import field_errors
from playground.contracts.wire import plausible_id, request_base_url
from playground.models import Upload


def team_file(request: HttpRequest, file_id: str) -> Upload:
    """The team's upload with this id; 404 for any other, another team's too."""
    upload = (
        Upload.objects.filter(file_id=file_id, team_id=request.user.profile.team_id).first()
        if plausible_id(file_id)
        else None
    )
    if upload is None:
        raise replicate.file_not_found(file_id)
    return upload


def create(request: HttpRequest) -> JsonResponse:
    content, fields = multipart_file(request, replicate.CONTENT)
    try:
        metadata = replicate.metadata_from(fields.get("metadata"))
        name = (fields.get("filename") or "").strip() or content.name or ""
        upload = uploads.store_upload(request.user, content, original_name=name, metadata=metadata)
    except uploads.UploadRefused as exc:
        raise field_errors({replicate.CONTENT: [str(exc)]}) from None
    finally:
        content.close()  # deletes the temporary file
    return JsonResponse(replicate.file_object(upload, request_base_url(request)), status=201)


def list_files(request: HttpRequest) -> JsonResponse:
    """The team's uploads, whichever API or page they came through, newest first."""
    # Served by the upload_team_recent index (team, -created_at).
    rows = Upload.objects.filter(team_id=request.user.profile.team_id)
    page, links = keyset_page(request, rows, "file_id", "replicate-files")
    request_base = request_base_url(request)
    return JsonResponse(
        {**links, "results": [replicate.file_object(upload, request_base) for upload in page]}
    )


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
            raise replicate.file_not_found(file_id)  # a concurrent delete or the sweeper came first
        response = HttpResponse(status=204)
        del response["Content-Type"]  # no body, so no type
        return response
    return JsonResponse(replicate.file_object(upload, request_base_url(request)))
