"""Gives every request an id: the X-Request-ID it came with (a load balancer's,
a client's), or a new one; returned in the response's X-Request-ID header and
carried by every log record made while the request is handled (ops.logs).

First in MIDDLEWARE, so even the records and answers of the middleware after
it (a refused host, an HTTPS redirect) carry it.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from playground.ops import logs

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
