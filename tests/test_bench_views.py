"""The benchmark's floors (playground/api/bench.py): they answer, and keep the books whole."""

import json

from django.test import RequestFactory

from accounts import ledger
from accounts.models import CreditAccount
from playground import services
from playground.api import bench
from playground.models import GenerationEvent

BODY = {"model": "kling/v2-1", "input": {"prompt": "A lighthouse in a storm"}}


def test_the_read_floor_answers_a_task_by_its_id(alice):
    generation = services.submit(user=alice, **BODY)
    factory = RequestFactory()
    found = bench.floor_read(factory.get("/bench/floor/read", {"taskId": generation.task_id}))
    missing = bench.floor_read(factory.get("/bench/floor/read", {"taskId": "no-such-task"}))
    assert json.loads(found.content)["data"] == {"state": "queuing"}
    assert json.loads(missing.content)["data"] == {"state": None}


def test_the_write_floor_writes_a_row_and_takes_the_lock_but_moves_no_credits(alice):
    generation = services.submit(user=alice, **BODY)
    account = CreditAccount.objects.get(user=alice)
    before = (account.balance, account.held)
    bench._floor_rows.cache_clear()  # the rows are looked up once per process
    try:
        for _ in range(3):
            answer = bench.floor_write(RequestFactory().post("/bench/floor/write"))
            assert answer.status_code == 200
    finally:
        bench._floor_rows.cache_clear()
    assert generation.events.filter(note="floor").count() == 3
    assert GenerationEvent.objects.filter(note="floor").count() == 3
    account.refresh_from_db()
    assert (account.balance, account.held) == before
    assert ledger.totals_from_entries(account) == before


def test_the_write_floor_without_rows_to_write_says_so(db):
    bench._floor_rows.cache_clear()
    try:
        answer = bench.floor_write(RequestFactory().post("/bench/floor/write"))
    finally:
        bench._floor_rows.cache_clear()
    assert answer.status_code == 409
    assert "setup" in json.loads(answer.content)["msg"]
    assert not GenerationEvent.objects.exists()
