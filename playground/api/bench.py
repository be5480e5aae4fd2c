"""The benchmark's ceiling: a bare JSON view, routed only when BENCH_CEILING_VIEW=1.

`make bench` compares every API figure with this view served by the same
gunicorn and the same middleware: what is left is the cost of our own code
(authentication, queries, the queue). It does nothing else, on purpose.
"""

from django.http import HttpRequest, JsonResponse


def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"code": 200, "msg": "success", "data": {"ok": True}})
