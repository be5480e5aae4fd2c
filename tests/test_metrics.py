"""GET /metrics in this process: the token, the request counts, the gauges read
from the database, and the example Grafana dashboard's queries.

The counts of real generations made by a worker process, added up with the
web process's, are tests/test_metrics_processes.py's.
"""

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from playground import services
from playground.models import Generation
from playground.ops import metrics
from tests.prometheus import exposed_names, parse, value

TOKEN = "metrics-test-token-3f9a"
DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"
PROMPT = "A lighthouse at night, waves below"


@pytest.fixture
def scrape(client, settings, db):
    settings.METRICS_TOKEN = TOKEN

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.content.decode()

    return get


def test_it_is_not_found_while_no_token_is_set(client, settings, db):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "authorization", ["", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"]
)
def test_it_refuses_a_scrape_without_the_token(client, settings, db, authorization):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"reelgate_" not in response.content


def test_it_answers_prometheus_in_openmetrics_when_asked(client, settings, db):
    settings.METRICS_TOKEN = TOKEN
    accept = "application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3"
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    families = {f.name: f.type for f in openmetrics_families(response.content.decode())}
    assert families["reelgate_generations_created"] == "counter"
    assert families["reelgate_queue_depth"] == "gauge"


def test_it_counts_requests_by_contract_route_and_status(client, scrape, alice_key):
    before = parse(scrape())
    auth = {"HTTP_AUTHORIZATION": f"Bearer {alice_key}"}
    body = {"model": "kling/v2-1", "input": {"prompt": PROMPT, "resolution": "480p"}}
    created = client.post(
        "/api/v1/jobs/createTask", json.dumps(body), content_type="application/json", **auth
    )
    assert created.status_code == 200
    task_id = created.json()["data"]["taskId"]
    assert client.get("/api/v1/jobs/recordInfo", {"taskId": task_id}, **auth).status_code == 200
    missing = client.get(f"/v1/videos/{task_id}x", **auth)  # another contract's 404
    assert missing.status_code == 404
    assert client.get(f"/no/such/page/{task_id}").status_code == 404

    text = scrape()
    after = parse(text)

    def counted(**labels) -> float:
        name = "reelgate_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert counted(contract="jobs", route="jobs-create", method="POST", status="200") == 1
    assert counted(contract="jobs", route="jobs-record", method="GET", status="200") == 1
    assert counted(contract="openai", route="openai-video", method="GET", status="404") == 1
    assert counted(contract="none", route="unmatched", method="GET", status="404") == 1
    timed = "reelgate_http_request_duration_seconds_count"
    labels = {"contract": "jobs", "route": "jobs-create", "method": "POST"}
    assert value(after, timed, **labels) - value(before, timed, **labels) == 1
    # Routes are labelled by name: no id ever becomes a label.
    assert task_id not in text


def test_it_counts_a_created_generation_once_committed(
    scrape, alice, django_capture_on_commit_callbacks
):
    created = "reelgate_generations_created_total"
    labels = {"model": "kling/v2-1", "contract": "jobs"}
    held = "reelgate_credits_held_total"
    before = parse(scrape())
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.submit(user=alice, model="kling/v2-1", input={"prompt": PROMPT})
            raise RuntimeError("rolled back with the generation")
    rolled_back = parse(scrape())
    assert value(rolled_back, created, **labels) == value(before, created, **labels)
    assert value(rolled_back, held) == value(before, held)

    with django_capture_on_commit_callbacks(execute=True):
        generation = services.submit(
            user=alice, model="kling/v2-1", input={"prompt": PROMPT}, contract="jobs"
        )
    after = parse(scrape())
    assert value(after, created, **labels) - value(before, created, **labels) == 1
    assert Decimal(str(value(after, held) - value(before, held))) == generation.quoted_credits


def test_it_reads_the_queue_the_polls_and_the_holds_from_the_database(
    scrape, alice, local_renderer
):
    assert value(parse(scrape()), "reelgate_queue_depth") == 0
    queued = services.submit(user=alice, model="kling/v2-1", input={"prompt": PROMPT})
    polled = services.submit(user=alice, model="kling/v2-1", input={"prompt": PROMPT})
    now = timezone.now()
    Generation.objects.filter(pk=queued.pk).update(created_at=now - timedelta(seconds=90))
    Generation.objects.filter(pk=polled.pk).update(
        state=Generation.GENERATING,
        provider=local_renderer,
        upstream_ref="upstream-task-1",
        next_poll_at=now - timedelta(seconds=40),
    )

    samples = parse(scrape())
    assert value(samples, "reelgate_queue_depth") == 1
    assert 90 <= value(samples, "reelgate_queue_oldest_age_seconds") < 150
    assert value(samples, "reelgate_generations_generating") == 1
    assert value(samples, "reelgate_polls_due") == 1
    assert 40 <= value(samples, "reelgate_poll_lag_seconds") < 100
    assert value(samples, "reelgate_deliveries_pending", kind="callback") == 0
    on_hold = queued.quoted_credits + polled.quoted_credits
    assert Decimal(str(value(samples, "reelgate_credits_on_hold"))) == on_hold


def test_every_metric_the_dashboard_queries_is_in_metrics(scrape):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]
    assert len(exprs) >= 20
    queried = {name for expr in exprs for name in re.findall(r"\breelgate_\w+", expr)}
    assert all(re.search(r"\breelgate_\w+", expr) for expr in exprs), exprs

    missing = queried - exposed_names(scrape())
    assert missing == set()


def test_a_run_starts_on_an_empty_metrics_directory(tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"left by the last run")
    (tmp_path / "notes.txt").write_text("not ours")
    given = {metrics.MULTIPROC_ENV: str(tmp_path), "PATH": "/usr/bin"}
    env = metrics.multiprocess_env(given)
    assert env == given
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]
    metrics.remove_multiprocess_dir(given, env)
    assert tmp_path.is_dir()  # the operator's directory stays

    made = metrics.multiprocess_env({"PATH": "/usr/bin"})
    directory = Path(made[metrics.MULTIPROC_ENV])
    assert directory.is_dir() and list(directory.iterdir()) == []
    metrics.remove_multiprocess_dir({"PATH": "/usr/bin"}, made)
    assert not directory.exists()
