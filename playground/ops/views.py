"""GET /healthz and GET /readyz, for load balancers and orchestrators.

/healthz: the process lives and serves requests; it touches nothing else, so
a database outage never makes an orchestrator restart healthy web servers.
/readyz: the parts this install needs work (ops.health), 200 or 503 naming
the failing ones. Both take no key, are not rate-limited and are exempt from
the HTTPS redirect (SECURE_REDIRECT_EXEMPT), so a plain-HTTP probe gets the
answer itself. Answers use the API's envelope: {code, msg, data}.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from playground.ops import health


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
