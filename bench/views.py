"""The benchmark's reference views, routed by bench/urls.py (bench.settings only).

`make bench` compares every API figure with these views served by the same
gunicorn and the same middleware:

- the ceiling, a bare JSON view: what is left is the cost of our own code
  (authentication, queries, the queue);
- two floors, the least any design of the same calls could cost on this
  storage: a status read is at least one SELECT by the unique task id, a
  create at least one transaction that writes a row and locks the account
  it charges. Raw SQL, no ORM, no authentication, no Redis: what separates
  an API figure from its floor is our code; what separates a floor from the
  ceiling is PostgreSQL and the round trips to it (bench/README.md).

They do nothing else, on purpose.
"""

from functools import cache

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt


def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"code": 200, "msg": "success", "data": {"ok": True}})


def floor_read(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state FROM playground_generation WHERE task_id = %s",
            [request.GET.get("taskId", "")],
        )
        row = cursor.fetchone()
    return JsonResponse({"code": 200, "msg": "success", "data": {"state": row and row[0]}})


@csrf_exempt
def floor_write(request: HttpRequest) -> JsonResponse:
    rows = _floor_rows()
    if rows is None:
        _floor_rows.cache_clear()  # look again next time
        message = "The write floor needs a generation and a credit account: run the setup first."
        return JsonResponse({"code": 409, "msg": message, "data": None}, status=409)
    generation_id, account_id = rows
    with transaction.atomic(), connection.cursor() as cursor:
        # An event row (the smallest table a create writes) and the account's
        # row lock, as a hold takes it; the UPDATE changes nothing, so the
        # benchmark's balances stay whole.
        cursor.execute(
            "INSERT INTO playground_generationevent"
            " (generation_id, from_state, to_state, note, worker, at)"
            " VALUES (%s, '', 'queuing', 'floor', '', %s)",
            [generation_id, timezone.now()],
        )
        cursor.execute("UPDATE accounts_creditaccount SET held = held WHERE id = %s", [account_id])
    return JsonResponse({"code": 200, "msg": "success", "data": {"ok": True}})


@cache
def _floor_rows() -> tuple[int, int] | None:
    # The first generation and credit account, looked up once per process:
    # the benchmark creates both before its HTTP runs.
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM playground_generation")
        generation_id = cursor.fetchone()[0]
        cursor.execute("SELECT min(id) FROM accounts_creditaccount")
        account_id = cursor.fetchone()[0]
    if generation_id is None or account_id is None:
        return None
    return generation_id, account_id
