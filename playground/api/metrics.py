"""GET /metrics: Prometheus's scrape, for the holder of METRICS_TOKEN only.

Without METRICS_TOKEN set the route answers 404, as if it did not exist:
the figures (request rates, credits, providers' names) are never public by
default. With it, a scrape must send `Authorization: Bearer <token>`
(Prometheus's `authorization` block, or `bearer_token` of older ones); any
other request gets 401.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from playground import scrape
from playground.api.auth import bearer_key


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("metrics are off: METRICS_TOKEN is not set")
    if not hmac.compare_digest(bearer_key(request).encode(), settings.METRICS_TOKEN.encode()):
        response = HttpResponse(
            "A valid metrics token is needed: send 'Authorization: Bearer <METRICS_TOKEN>'.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = scrape.exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
