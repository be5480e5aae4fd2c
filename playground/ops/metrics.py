"""Prometheus counters and histograms, counted where the events happen.

Every process of an install counts its own: gunicorn's workers count
requests and creates, django-q2's workers successes, failures and
deliveries, the poller its polls. In multiprocess mode each process writes
its figures to files in PROMETHEUS_MULTIPROC_DIR, and GET /metrics adds up
every file (playground/ops/scrape.py). prometheus_client chooses the mode once,
when it is imported, from that variable: `manage.py serve` and `rundev` make
a fresh directory (`multiprocess_env`) and give it to every process they
start. Without it each process keeps its own figures in memory, and /metrics
shows those of the web process that answers.

Only counters and histograms live here: a gauge summed over processes means
nothing, so what is true now (the queue's depth, the credits on hold) is
read from the database at each scrape instead (playground/ops/scrape.py).

Events inside a transaction are counted when it commits (`_on_commit`): a
rolled-back transition counted nothing. Labels stay few: a model id, a
provider's name, a fail code, a contract, a route's name, never an id or a
raw path.

prometheus_client's multiprocess mode:
https://prometheus.github.io/client_python/multiprocess/
"""

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROC_DIR = os.environ.get(MULTIPROC_ENV, "")
if MULTIPROC_DIR and not Path(MULTIPROC_DIR).is_dir():
    # prometheus_client would fail at the first count, deep in a request or a task.
    raise ImproperlyConfigured(
        f"{MULTIPROC_ENV}={MULTIPROC_DIR!r} is not a directory: create it, empty, "
        "before starting the processes that share it"
    )
# The *_created series (when each labelled series first appeared) would
# double the series of every counter; multiprocess mode has none anyway.
disable_created_metrics()

# The registry of this process's metrics, scraped directly without
# multiprocess mode (in it, the files are read instead).
REGISTRY = CollectorRegistry(auto_describe=True)

# From a few milliseconds (a status call) to the 30 s of WEB_TIMEOUT.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# From an instant local preview to the half hour of a slow upstream.
GENERATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)

http_requests = Counter(
    "reelgate_http_requests",
    "HTTP requests answered, by contract, route name, method and status.",
    ["contract", "route", "method", "status"],
    registry=REGISTRY,
)
http_request_seconds = Histogram(
    "reelgate_http_request_duration_seconds",
    "Time to answer an HTTP request (to the first byte of a streamed body).",
    ["contract", "route", "method"],
    buckets=REQUEST_BUCKETS,
    registry=REGISTRY,
)
generations_created = Counter(
    "reelgate_generations_created",
    "Generations accepted (credits held, queued), by model and the contract they came by.",
    ["model", "contract"],
    registry=REGISTRY,
)
generations_succeeded = Counter(
    "reelgate_generations_succeeded",
    "Generations finished with a result (charged), by model and provider.",
    ["model", "provider"],
    registry=REGISTRY,
)
generations_failed = Counter(
    "reelgate_generations_failed",
    "Generations failed (nothing charged), by model, provider and fail code.",
    ["model", "provider", "code"],
    registry=REGISTRY,
)
generation_seconds = Histogram(
    "reelgate_generation_duration_seconds",
    "Time from submit to success, by model and provider.",
    ["model", "provider"],
    buckets=GENERATION_BUCKETS,
    registry=REGISTRY,
)
upstream_polls = Counter(
    "reelgate_upstream_polls",
    "Upstream status polls done, by provider and what they found: "
    "running, succeeded, failed, error (no usable answer) or crashed.",
    ["provider", "outcome"],
    registry=REGISTRY,
)
delivery_attempts = Counter(
    "reelgate_delivery_attempts",
    "Callback (kind=callback) and webhook event (kind=event) attempts, by outcome: "
    "delivered (2xx), rejected (another status), unreachable (no answer), "
    "refused (the URL was refused or the endpoint deleted; not retried).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
deliveries_finished = Counter(
    "reelgate_deliveries_finished",
    "Callbacks and webhook events settled, by outcome: delivered, or failed "
    "(refused, or no 2xx before the retry window closed).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
credits_held = Counter(
    "reelgate_credits_held",
    "Credits put on hold by accepted generations.",
    registry=REGISTRY,
)
credits_captured = Counter(
    "reelgate_credits_captured",
    "Credits charged: holds captured by successful generations.",
    registry=REGISTRY,
)
credits_released = Counter(
    "reelgate_credits_released",
    "Credits given back: holds released by failed generations.",
    registry=REGISTRY,
)

NO_PROVIDER = "none"


def _on_commit(count: Callable[[], None]) -> None:
    """Count when the current transaction commits (at once outside one).

    robust: a failing count is logged by Django and never fails the
    callbacks queued after it (such as sending the run task).
    """
    transaction.on_commit(count, robust=True)


def generation_created(model: str, contract: str, held: Decimal) -> None:
    def count() -> None:
        generations_created.labels(model, contract).inc()
        credits_held.inc(float(held))

    _on_commit(count)


def generation_succeeded(model: str, provider: str, seconds: float, charged: Decimal) -> None:
    def count() -> None:
        generations_succeeded.labels(model, provider or NO_PROVIDER).inc()
        generation_seconds.labels(model, provider or NO_PROVIDER).observe(max(0.0, seconds))
        credits_captured.inc(float(charged))

    _on_commit(count)


def generation_failed(model: str, provider: str, code: str, released: Decimal) -> None:
    def count() -> None:
        generations_failed.labels(model, provider or NO_PROVIDER, code).inc()
        credits_released.inc(float(released))

    _on_commit(count)


def poll_done(provider: str, outcome: str) -> None:
    upstream_polls.labels(provider or NO_PROVIDER, outcome).inc()


def delivery_attempted(kind: str, outcome: str) -> None:
    delivery_attempts.labels(kind, outcome).inc()


def delivery_finished(kind: str, outcome: str) -> None:
    deliveries_finished.labels(kind, outcome).inc()


def multiprocess_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` for a set of processes whose counts one /metrics adds up.

    Their PROMETHEUS_MULTIPROC_DIR: the one set, emptied of the previous
    run's files (prometheus_client's rule: a run starts on an empty
    directory), or else a new one, in memory (/dev/shm) where there is one.
    """
    path = environ.get(MULTIPROC_ENV, "")
    if path:
        for stale in Path(path).glob("*.db"):
            stale.unlink()
    else:
        shm = Path("/dev/shm")
        path = tempfile.mkdtemp(prefix="reelgate-metrics-", dir=shm if shm.is_dir() else None)
    return {**environ, MULTIPROC_ENV: path}


def remove_multiprocess_dir(environ: Mapping[str, str], made: Mapping[str, str]) -> None:
    """Remove the directory `multiprocess_env` made, not one the operator set."""
    if not environ.get(MULTIPROC_ENV):
        shutil.rmtree(made[MULTIPROC_ENV], ignore_errors=True)
