"""The playground's upload button for image and video URL fields.

The browser's door to `playground.uploads`, the one upload service the API's
upload endpoints use too: the type is judged by content (JPEG, PNG or WebP
for images, MP4 for videos), the size limit is enforced while the bytes
arrive, and the file is stored at `uploads/<unguessable token>/<name>`. The
answer is the absolute URL to put in the field.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from playground import uploads
from playground.contracts.wire import request_base_url
from playground.outbound import human_size

# Multipart boundaries and the small fields beside the file.
ENVELOPE_BYTES = 64 * 1024


def refusal(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt  # checked by csrf_protect in _store, once the metered handler is in place
@login_required
@require_POST
def upload(request: HttpRequest) -> JsonResponse:
    kind = request.GET.get("kind", uploads.IMAGE)
    if kind not in uploads.ALL_KINDS:
        return refusal("kind must be image or video.")
    limit = uploads.largest_limit([kind])
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit + ENVELOPE_BYTES:
        # Say no before reading the body at all.
        return refusal(f"The file is too large: at most {human_size(limit)}.", 413)
    handler = uploads.LimitedUploadHandler(request, field="file", kinds=(kind,))
    # Handlers can only change before the body is read, which the CSRF check does.
    request.upload_handlers = [handler]
    return _store(request, handler, kind)


@csrf_protect
def _store(request: HttpRequest, handler: uploads.LimitedUploadHandler, kind: str) -> JsonResponse:
    try:
        uploaded = request.FILES.get("file")
    except (MultiPartParserError, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as exc:
        return refusal(f"The upload could not be read: {exc}")
    if handler.refused is not None:
        return refusal(str(handler.refused))
    if uploaded is None:
        return refusal("Choose a file to upload.")
    try:
        stored = uploads.store_upload(request.user, uploaded, kinds=(kind,))
    except uploads.UploadRefused as exc:
        return refusal(str(exc))
    finally:
        uploaded.close()  # removes the temporary file
    url = stored.public_url(request_base_url(request))
    return JsonResponse(
        {
            "url": url,
            "name": stored.file_name,
            "type": stored.mime_type,
            "size": stored.size_bytes,
            "limit": human_size(uploads.limits([kind])[stored.mime_type]),
        },
        status=201,
    )
