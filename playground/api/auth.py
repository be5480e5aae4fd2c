"""The one decorator every API view wears.

It authenticates the Bearer key (request.api_key: the key's record, with the
ids of its user, team and credit account; request.user: the user, read from
the database when a view first uses it), enforces
maintenance mode, the per-key request rate and the per-address count of bad
keys, and turns every error —
ours, the core's, or an unexpected one — into the contract's own error
envelope. Views only parse, call the core and render.
"""

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import apikeys
from playground.api import limits
from playground.api.errors import from_domain
from playground.contracts.errors import ApiError
from playground.contracts.wire import parse_json

log = logging.getLogger(__name__)

ErrorRenderer = Callable[[ApiError], HttpResponse]


def api_view(*, methods: tuple[str, ...], render_error: ErrorRenderer, input_prefix: str = ""):
    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                if settings.MAINTENANCE_MODE:
                    raise ApiError(455, "The service is under maintenance. Try again later.")
                if request.method not in methods:
                    raise ApiError(405, f"Use {' or '.join(methods)} for this endpoint.")
                raw_key = apikeys.bearer_key(request.headers)
                api_key = apikeys.check(raw_key)
                if api_key is None:
                    if raw_key:
                        limits.count_bad_key(request)
                    raise ApiError(
                        401,
                        "Missing or invalid API key. Send it as 'Authorization: Bearer <key>'.",
                        code="invalid_api_key",
                    )
                request.api_key = api_key
                request.user = apikeys.user_of(api_key)
                limits.count_request(api_key)
                return view(request, *args, **kwargs)
            except Exception as exc:
                error = from_domain(exc, input_prefix=input_prefix)
                if error is None:
                    log.exception("API error in %s", request.path)
                    error = ApiError(500, "Internal server error.", code="server_error")
                response = render_error(error)
                if error.status == 405:
                    response["Allow"] = ", ".join(methods)
                if error.retry_after:
                    response["Retry-After"] = str(error.retry_after)
                return response

        return wrapper

    return decorator


def require_json_type(request: HttpRequest) -> None:
    """A 400 unless the body is declared JSON (application/json or a +json type).

    A body sent with no Content-Type at all is read as JSON too, as clients
    that post a JSON string without the header expect. Any other declared
    type is a client that meant something else (a form, a file, text): read
    as JSON regardless, it was accepted or refused by accident of its bytes.
    """
    declared = request.content_type or ""
    if declared and declared != "application/json" and not declared.endswith("+json"):
        raise ApiError(
            400,
            f"Send the body as JSON with 'Content-Type: application/json', not {declared[:100]}.",
            code="unsupported_content_type",
        )


def read_json(request: HttpRequest) -> dict:
    """The request body as a JSON object, or a 400 that says what is wrong.

    A body over DATA_UPLOAD_MAX_MEMORY_SIZE raises Django's RequestDataTooBig
    here, which api_view answers with its contract's 413
    (errors.from_request_limits).
    """
    require_json_type(request)
    if not request.body:
        raise ApiError(400, "The request body is empty; send a JSON object.")
    try:
        body = parse_json(request.body)
    except ValueError as exc:
        raise ApiError(400, f"Malformed JSON in the request body: {exc}.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body
