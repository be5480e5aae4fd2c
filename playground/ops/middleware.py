"""An id for every request, and every request counted for GET /metrics.

RequestIdMiddleware gives every request an id: the X-Request-ID it came
with (a load balancer's, a client's), or a new one; returned in the
response's X-Request-ID header and carried by every log record made while
the request is handled (ops.logs). First in MIDDLEWARE, so even the records
and answers of the middleware after it (a refused host, an HTTPS redirect)
carry it.

RequestMetricsMiddleware counts and times every request by contract, route
name, method and status (ops.metrics). After whitenoise: static files are
not counted.
"""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from playground.ops import logs, metrics

HEADER = "X-Request-ID"


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = logs.request_id_from(request.headers.get(HEADER))
        request.request_id = request_id
        # Set until the response is closed (logs.end_request, on Django's
        # request_finished), not only while the middleware below runs: Django
        # logs a 4xx answer ("Not Found: ...") and the development server its
        # request line after the middleware returned.
        logs.request_id.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


# The contract of a route served by playground/api/<module>.py, by module,
# named as Generation.contract names them; other API modules (uploads, docs,
# openapi, upstream_callbacks) are named for themselves, and ops' routes
# (/healthz, /readyz, /metrics) are `ops`.
API_CONTRACTS = {
    "jobs": "jobs",
    "video_generations": "video_generations",
    "generate_task": "generate_task",
    "openai_videos": "openai",
    "replicate_predictions": "replicate",
    "replicate_files": "replicate",
}
API_PACKAGE = "playground.api."
OPS_PACKAGE = "playground.ops."
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def route_labels(request: HttpRequest) -> tuple[str, str]:
    """(contract, route) of a request: from the route it resolved to, never its path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "none", "unmatched"
    module = getattr(match.func, "__module__", "") or ""
    if module.startswith(API_PACKAGE):
        name = module.removeprefix(API_PACKAGE)
        contract = API_CONTRACTS.get(name, name)
    elif module.startswith(OPS_PACKAGE):
        contract = "ops"
    elif "admin" in match.namespaces:
        contract = "admin"
    elif match.url_name == "media":
        contract = "media"
    else:
        contract = "pages"
    return contract, match.view_name


class RequestMetricsMiddleware:
    """Counts every request the project's routes answer, and times it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        contract, route = route_labels(request)
        # A client may send any method name: unknown ones share one label.
        method = request.method if request.method in METHODS else "other"
        metrics.http_requests.labels(contract, route, method, str(response.status_code)).inc()
        metrics.http_request_seconds.labels(contract, route, method).observe(elapsed)
        return response
