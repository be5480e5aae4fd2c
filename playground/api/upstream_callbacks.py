"""The URL upstreams call back (playground/providers/wakeup.py): it wakes a poll, nothing more.

Whatever the body says is not read: the poll that follows asks the upstream
itself. So the answer is the same for every well-formed callback, and a
wrong token is a 404 that tells nothing about which task ids exist.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from playground.providers import wakeup


@csrf_exempt
@require_POST
def upstream_callback(request: HttpRequest, task_id: str, token: str) -> JsonResponse:
    if not wakeup.wake(task_id, token):
        return JsonResponse({"error": "No such callback."}, status=404)
    return JsonResponse({"received": True})
