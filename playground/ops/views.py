"""GET /healthz and GET /readyz, for load balancers and orchestrators; GET /metrics,
for Prometheus.

/healthz: the process lives and serves requests; it touches nothing else, so
a database outage never makes an orchestrator restart healthy web servers.
/readyz: the parts this install needs work (ops.health), 200 or 503 naming
the failing ones. Both take no key, are not rate-limited and are exempt from
the HTTPS redirect (SECURE_REDIRECT_EXEMPT), so a plain-HTTP probe gets the
answer itself. Answers use the API's envelope: {code, msg, data}.

/metrics answers the holder of METRICS_TOKEN only. Without METRICS_TOKEN set
it answers 404, as if it did not exist: the figures (request rates, credits,
providers' names) are never public by default. With it, a scrape must send
`Authorization: Bearer <token>` (Prometheus's `authorization` block); any
other request gets 401.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.apikeys import bearer_key
from playground.ops import health, scrape


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"code": 200, "msg": "alive", "data": {}})


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = health.readiness()
    failing = [check for check in checks if not check.ok]
    status = 503 if failing else 200
    msg = "ready"
    if failing:
        msg = "not ready: " + "; ".join(f"{check.name}: {check.detail}" for check in failing)
    data = {check.name: {"ok": check.ok, "detail": check.detail} for check in checks}
    return JsonResponse({"code": status, "msg": msg, "data": data}, status=status)


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("metrics are off: METRICS_TOKEN is not set")
    if not hmac.compare_digest(
        bearer_key(request.headers).encode(), settings.METRICS_TOKEN.encode()
    ):
        response = HttpResponse(
            "A valid metrics token is needed: send 'Authorization: Bearer <METRICS_TOKEN>'.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = scrape.exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
