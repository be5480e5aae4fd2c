"""The team gallery (/gallery/) at 100,000 generations: latency and queries per page.

The rows are bulk-inserted for one team of five members over about 90
days, then the page is rendered in this process through Django's test
client (the full middleware stack and template, no network), each variant
several times: the median and the worst are reported with the number of
SQL queries. The same page for a team with a single generation must issue
as many queries as a full page of 24: a query per card would be an N+1.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Team
from accounts.teams import create_member
from playground import catalog, usage
from playground.keyset import cursor_for
from playground.models import Generation

BATCH = 5000
SPAN = timedelta(days=90)
PROMPTS = (
    "A red fox trotting through fresh snow at dawn",
    "A paper boat drifting down a rainy street, macro lens",
    "Neon city at night, slow dolly forward",
    "A lighthouse in a storm, waves crashing",
)


@dataclass(frozen=True)
class PageTiming:
    name: str
    p50_ms: float
    max_ms: float
    queries: int
    slowest_ms: float  # the slowest of the page's queries, as PostgreSQL answered it
    slowest_sql: str
    page_sql: str  # the query that reads the page's generations, as sent
    status: int
    page_query_ms: float = 0.0  # that query's median, as the database answered it
    totals_ms: float = 0.0  # the per-member totals' median


def populate(count: int):
    """A team of five with `count` finished generations; returns (team, members)."""
    team = Team.objects.create(name="Gallery benchmark")
    members = [create_member(f"gallery{n}", team, password="x" * 12) for n in range(5)]
    models = sorted(spec.id for spec in catalog.all_specs())
    now = timezone.now()
    step = SPAN / count
    for start in range(0, count, BATCH):
        rows = []
        for n in range(start, min(count, start + BATCH)):
            failed = n % 10 == 7
            rows.append(
                Generation(
                    owner=members[n % len(members)],
                    team=team,
                    model_id=models[n % len(models)],
                    model_name=models[n % len(models)],
                    input={"prompt": f"{PROMPTS[n % len(PROMPTS)]} #{n}"},
                    state=Generation.FAIL if failed else Generation.SUCCESS,
                    fail_code="UPSTREAM_ERROR" if failed else "",
                    fail_msg="The upstream refused it." if failed else "",
                    progress=0 if failed else 100,
                    video="" if failed else f"generations/bench/{n}.mp4",
                    poster="" if failed else f"generations/bench/{n}.jpg",
                    duration=5.0,
                    width=854,
                    height=480,
                    quoted_credits=Decimal("55.00"),
                    charged_credits=Decimal("0.00") if failed else Decimal("55.00"),
                    price_breakdown="bench",
                    started_at=now,
                    completed_at=now,
                )
            )
        Generation.objects.bulk_create(rows, batch_size=BATCH)
    # created_at is auto_now_add, which bulk_create overwrites: spread it here,
    # newest with the highest id, as rows arrive in production.
    table = Generation._meta.db_table
    last = Generation.objects.filter(team=team).order_by("-pk").values_list("pk", flat=True)[0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET created_at = %s - (%s - id) * %s, updated_at = %s - (%s - id) * %s"
            " WHERE team_id = %s",
            [now, last, step, now, last, step, team.pk],
        )
        cursor.execute(f"ANALYZE {table}")
    # The totals under the cards read the usage rollup: counted from the rows.
    usage.rebuild(team_ids=[team.pk])
    return team, members


def time_page(client: Client, name: str, url: str, *, runs: int, headers=None) -> PageTiming:
    client.get(url, headers=headers)  # warm: templates compiled, plans cached
    timings, counts, slowest, page_sql = [], set(), {}, ""
    for _ in range(runs):
        reset_queries()  # as Django does when a request starts (see bench/cost.py)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            answer = client.get(url, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
        # Read now: the next request empties the log.
        captured = queries.captured_queries
        counts.add(len(captured))
        for query in captured:
            slowest.setdefault(query["sql"], []).append(float(query["time"]) * 1000)
            if is_page_query(query["sql"]):
                page_sql = query["sql"]
    sql, times = max(slowest.items(), key=lambda item: statistics.median(item[1]))
    totals = [times for query, times in slowest.items() if "GROUP BY" in query]
    return PageTiming(
        name=name,
        p50_ms=statistics.median(timings),
        max_ms=max(timings),
        queries=max(counts),
        slowest_ms=statistics.median(times),
        slowest_sql=sql,
        page_sql=page_sql,
        status=answer.status_code,
        page_query_ms=statistics.median(slowest[page_sql]) if page_sql else 0.0,
        totals_ms=statistics.median(totals[0]) if totals else 0.0,
    )


def is_page_query(sql: str) -> bool:
    """The query that reads a page of generations: rows of the table, newest first."""
    table = Generation._meta.db_table
    return (
        f'FROM "{table}"' in sql and "GROUP BY" not in sql and "ORDER BY" in sql and "LIMIT" in sql
    )


def measure(team, members, *, runs: int) -> tuple[list[PageTiming], str]:
    """The gallery's variants, and PostgreSQL's plan of a deep page's query (EXPLAIN ANALYZE)."""
    client = Client()
    client.force_login(members[0])
    team_rows = Generation.objects.filter(team=team).order_by("-created_at", "-pk")
    total = team_rows.count()
    deep = cursor_for(team_rows[total // 2])
    htmx = {"HX-Request": "true", "HX-Target": "load-more"}
    pages = [
        time_page(client, "first page", "/gallery/", runs=runs),
        time_page(
            client, "next page (cursor)", f"/gallery/?after={deep_cursor(team_rows)}", runs=runs
        ),
        time_page(
            client, f"page at row {total // 2:,} (cursor)", f"/gallery/?after={deep}", runs=runs
        ),
        time_page(
            client, "load more (htmx), deep", f"/gallery/?after={deep}", runs=runs, headers=htmx
        ),
        time_page(client, "filter: failed only", "/gallery/?state=fail", runs=runs),
        time_page(
            client, "filter: one model", f"/gallery/?model={team_rows[0].model_id}", runs=runs
        ),
        time_page(client, "filter: one author", f"/gallery/?author={members[1].pk}", runs=runs),
        time_page(client, "search prompts", "/gallery/?q=lighthouse", runs=runs),
    ]
    # The same page for a team with one generation: as many queries, or it is N+1.
    lone_team = Team.objects.create(name="Gallery benchmark, small")
    lone = create_member("gallery-lone", lone_team, password="x" * 12)
    Generation.objects.create(
        owner=lone,
        team=lone_team,
        model_id=team_rows[0].model_id,
        state=Generation.SUCCESS,
        video="generations/bench/lone.mp4",
        poster="generations/bench/lone.jpg",
    )
    client.force_login(lone)
    pages.append(time_page(client, "first page, team of 1 generation", "/gallery/", runs=runs))

    # The plan of the deep page's own query, as the gallery sent it.
    deep_page = pages[2]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + deep_page.page_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return pages, f"{deep_page.name}\n\n{plan}"


def deep_cursor(team_rows) -> str:
    return cursor_for(team_rows[23])
