"""How domain errors and Django's request limits become API errors, and the 404 of
unrouted URLs. Each contract renders an ApiError in its own envelope."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.views.defaults import page_not_found

from accounts.budgets import BudgetExceeded
from accounts.ledger import InsufficientCredits
from playground.catalog import UnknownModel, ValidationFailed
from playground.contracts.errors import ApiError, field_errors
from playground.outbound import human_size
from playground.services import IdempotencyConflict, ModelUnavailable, TooManyUnfinished


def from_domain(exc: Exception, *, input_prefix: str = "") -> ApiError | None:
    """The API error for an exception raised by the core or by Django reading
    the request, or None."""
    if isinstance(exc, ApiError):
        return exc
    too_large = from_request_limits(exc)
    if too_large is not None:
        return too_large
    if isinstance(exc, UnknownModel):
        return field_errors(exc.errors)
    if isinstance(exc, ValidationFailed):
        return field_errors(exc.errors, input_prefix)
    if isinstance(exc, BudgetExceeded):
        return ApiError(402, str(exc), code="insufficient_quota")
    if isinstance(exc, InsufficientCredits):
        return ApiError(
            402,
            f"Insufficient credits: {exc.required} needed, {exc.available} available.",
            code="insufficient_quota",
        )
    if isinstance(exc, ModelUnavailable):
        return ApiError(505, str(exc), code="model_unavailable")
    if isinstance(exc, IdempotencyConflict):
        return ApiError(422, str(exc), code="idempotency_key_reused", param="Idempotency-Key")
    if isinstance(exc, TooManyUnfinished):
        return ApiError(
            429,
            f"Too many unfinished tasks: {exc.limit} of {exc.limit} allowed for this "
            f"{exc.holder}. Wait for some to finish.",
            code="too_many_tasks",
            retry_after=5,
        )
    return None


def from_request_limits(exc: Exception) -> ApiError | None:
    """413 for a request over Django's DATA_UPLOAD_* limits, or None.

    Django raises these while a view reads request.body, .POST or .FILES
    (read_json, the multipart endpoints). They are SuspiciousOperations that
    Django itself would answer with a bare 400 page; here each contract
    answers in its own envelope. The upload endpoints read their files past
    these limits on purpose: only the JSON body and the text fields beside
    a file count.
    """
    if isinstance(exc, RequestDataTooBig):
        limit = human_size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return ApiError(
            413,
            f"The request body is too large: a JSON body, or the form fields beside a file, "
            f"may be at most {limit}. Send files as uploads and pass their URLs instead.",
            code="request_too_large",
        )
    if isinstance(exc, TooManyFieldsSent):
        return ApiError(
            413,
            f"Too many fields: a request may carry at most "
            f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields or query parameters.",
            code="too_many_fields",
        )
    if isinstance(exc, TooManyFilesSent):
        return ApiError(
            413,
            f"Too many files: a request may carry at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}.",
            code="too_many_files",
        )
    return None


def not_found(request, exception=None):
    """404 for URLs no route matches: JSON under the API prefixes, HTML elsewhere.

    API clients parse every answer as JSON; Django's HTML page would break them.
    """
    message = f"No endpoint at {request.path}."
    if request.path.startswith("/api/"):
        return JsonResponse({"code": 404, "msg": message, "data": None}, status=404)
    if request.path.startswith("/v1/"):
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
        return JsonResponse({"error": error, "detail": message}, status=404)
    return page_not_found(request, exception)
