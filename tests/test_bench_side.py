"""The benchmark's side (bench/): its views answer and keep the books whole;
a real install (config.settings) has none of it."""

import json

import pytest
from django.test import RequestFactory

from accounts import ledger
from accounts.models import CreditAccount
from bench import settings as bench_settings
from bench import views as bench
from playground import providers, services
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
    account = CreditAccount.objects.get(team__members__user=alice)
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


def test_a_real_install_routes_no_benchmark_view(client):
    for url in ("/bench/ceiling", "/bench/floor/read", "/bench/floor/write"):
        assert client.get(url).status_code == 404


def test_a_real_install_has_no_instant_provider_kind():
    with pytest.raises(KeyError):
        providers.provider_class("instant")


def test_the_bench_settings_route_the_ceiling_before_the_product(client, settings):
    settings.ROOT_URLCONF = bench_settings.ROOT_URLCONF
    assert client.get("/bench/ceiling").json() == {
        "code": 200,
        "msg": "success",
        "data": {"ok": True},
    }
    assert client.get("/api/v1/chat/credit").status_code == 401  # the product's routes remain


def test_the_bench_settings_add_the_instant_provider_kind(settings):
    settings.PROVIDER_KINDS_EXTRA = bench_settings.PROVIDER_KINDS_EXTRA
    assert providers.provider_class("instant").__name__ == "InstantProvider"
