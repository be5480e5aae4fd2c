"""What GET /metrics answers: every process's counters, and gauges read from the database.

The counters (ops.metrics) come from the files of every process
in multiprocess mode, or from this process's memory without it. The gauges
are what is true now, so they are read from the database at each scrape,
exact whichever process answers: the queue's depth and the age of its
oldest generation, the generations being made, the upstream polls due and
how late the latest of them is, the deliveries waiting and the credits on
hold. Each is one aggregate over an index (gen_state_lease, gen_state_poll,
delivery_due), or over the accounts' table for the credits.

Several machines scraped separately each report the same gauges: aggregate
them with max(), not sum(), across instances.
"""

from collections.abc import Iterator

from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from accounts.models import CreditAccount
from playground import lifecycle
from playground.models import Generation
from playground.ops import metrics
from playground.webhooks.models import Delivery


class DatabaseGauges(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        unfinished = {
            row["state"]: row
            for row in Generation.objects.filter(state__in=Generation.UNFINISHED)
            .order_by()
            .values("state")
            .annotate(count=Count("pk"), oldest=Min("created_at"))
        }
        queued = unfinished.get(Generation.QUEUING, {"count": 0, "oldest": None})
        yield _gauge(
            "reelgate_queue_depth",
            "Generations accepted and not yet started (state queuing).",
            queued["count"],
        )
        yield _gauge(
            "reelgate_queue_oldest_age_seconds",
            "Age of the oldest generation still queuing; 0 when none is.",
            _seconds_since(queued["oldest"], now),
        )
        yield _gauge(
            "reelgate_generations_generating",
            "Generations being made: rendered here, or waiting on an upstream.",
            unfinished.get(Generation.GENERATING, {"count": 0})["count"],
        )
        polls = Generation.objects.filter(lifecycle.poll_due(now)).aggregate(
            count=Count("pk"), earliest=Min("next_poll_at")
        )
        yield _gauge(
            "reelgate_polls_due",
            "Upstream polls due now and not yet taken by a poller or worker.",
            polls["count"],
        )
        yield _gauge(
            "reelgate_poll_lag_seconds",
            "How late the most overdue due poll is; 0 when none is due.",
            _seconds_since(polls["earliest"], now),
        )
        pending = GaugeMetricFamily(
            "reelgate_deliveries_pending",
            "Callbacks and webhook events not yet delivered nor given up, by kind.",
            labels=["kind"],
        )
        counts = dict(
            Delivery.objects.filter(status=Delivery.PENDING)
            .order_by()
            .values_list("kind")
            .annotate(count=Count("pk"))
        )
        for kind, _ in Delivery.KINDS:
            pending.add_metric([kind], counts.get(kind, 0))
        yield pending
        held = CreditAccount.objects.aggregate(held=Sum("held"))["held"]
        yield _gauge(
            "reelgate_credits_on_hold",
            "Credits held now for generations not yet finished, over every account.",
            float(held or 0),
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _seconds_since(moment, now) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


def exposition(accept: str) -> tuple[bytes, str]:
    """The body of GET /metrics and its content type.

    In the format the scraper's Accept header asks for, as prometheus_client's
    own handlers choose it: OpenMetrics for a Prometheus server that prefers
    it, else the classic text format (0.0.4).
    """
    encode, content_type = choose_encoder(accept)
    registry = CollectorRegistry(auto_describe=False)
    if metrics.MULTIPROC_DIR:
        MultiProcessCollector(registry, path=metrics.MULTIPROC_DIR)
    else:
        # A registry is a collector too: this process's own figures.
        registry.register(metrics.REGISTRY)
    registry.register(DatabaseGauges())
    return encode(registry), content_type
