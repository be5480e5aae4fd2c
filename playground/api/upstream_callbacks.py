"""The URL upstreams call back (playground/providers/wakeup.py): it wakes a poll, nothing more.

Whatever the body says is not acted on: the poll that follows asks the
upstream itself. The body is read only for the upstream's signature. Answers:

    200  checked; the generation's poll is due now
    404  a token we never gave out: the same for every task id
    401  the upstream's signature does not check (forged, another key, a body
         changed after signing, a timestamp more than 5 minutes off)
    503  the keys that check it could not be fetched now (Retry-After)
    413  a body past DATA_UPLOAD_MAX_MEMORY_SIZE

Every refusal is an answer other than 2xx, which Replicate and fal both
retry (Replicate for about a minute, fal 10 times over 2 hours): a 503 lets
a genuine callback come back once the keys can be had, and the poll goes on
at its own pace whatever happens to the callback.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from playground.providers import wakeup
from playground.providers.wakeup import Verdict

# Seconds before calling back again, when the keys could not be had: the
# key cache asks the upstream again after a minute at the earliest.
RETRY_AFTER = 60

REFUSALS = {
    Verdict.NOT_OURS: (404, "No such callback."),
    Verdict.FORGED: (401, "The callback's signature does not verify."),
    Verdict.UNCHECKED: (503, "The callback's signature cannot be checked now; try again later."),
}


@csrf_exempt
@require_POST
def upstream_callback(request: HttpRequest, task_id: str, token: str) -> JsonResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"error": "The callback's body is too large."}, status=413)
    verdict = wakeup.wake(task_id, token, request.headers, body)
    if verdict in REFUSALS:
        status, message = REFUSALS[verdict]
        headers = {"Retry-After": str(RETRY_AFTER)} if verdict is Verdict.UNCHECKED else None
        return JsonResponse({"error": message}, status=status, headers=headers)
    return JsonResponse({"received": True})
