"""Prompt search in the team gallery at 1,000,000 generations, on PostgreSQL or SQLite.

    .venv/bin/python bench/search.py            # PostgreSQL: a database of its own, dropped after
    .venv/bin/python bench/search.py --sqlite   # SQLite: a temporary file, removed after
    .venv/bin/python bench/search.py --quick    # 20,000 generations, 3 requests a page
    .venv/bin/python bench/run.py --only search # the same on PostgreSQL, in make bench's table

One team of 50 members gets the generations in one INSERT ... SELECT over a
series (PostgreSQL's generate_series, a recursive CTE on SQLite), with
every index and the prompt index's triggers in place, as rows arrive in
production. Each prompt is made of a subject, an action, a place and a style
from short lists of different lengths, so a word matches from one row in
three to one in 23, and one row in 10,000 mentions a zebra. Then the gallery
is rendered in this process through Django's test client (middleware,
queries, template), each variant several times: the median and the worst,
the number of SQL queries, and the cards' query and the per-member totals
apart. On SQLite Django times a query until its first row: what SQLite
still reads while the rows are fetched counts in the page, not the query.
The page's own query is shown with the database's plan.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from bench.gallery import PageTiming

MEMBERS = 50
SPAN = timedelta(days=90)
SUBJECTS = (
    "A red fox",
    "A paper boat",
    "An old lighthouse",
    "A neon tram",
    "A hummingbird",
    "A steam locomotive",
    "A snow leopard",
    "A glass jellyfish",
    "A vintage racing car",
    "A lonely astronaut",
    "A koi carp",
    "A hot air balloon",
    "A wooden sailboat",
    "A city fox cub",
    "A barn owl",
    "A robot chef",
    "A dancing couple",
    "A mountain goat",
    "A street musician",
    "A paper crane",
    "A desert caravan",
    "A tiny dragon",
    "A monarch butterfly",
)
ACTIONS = (
    "drifting through",
    "racing across",
    "hovering above",
    "sleeping in",
    "dancing through",
    "climbing over",
    "gliding past",
    "waiting beside",
    "spinning around",
    "wandering through",
    "diving into",
    "emerging from",
    "circling over",
    "resting under",
    "marching across",
    "floating above",
    "running along",
    "hiding behind",
    "sailing past",
)
PLACES = (
    "a rainy street",
    "fresh snow at dawn",
    "a neon city at night",
    "a stormy sea",
    "a sunflower field",
    "a misty forest",
    "an abandoned station",
    "a coral reef",
    "a desert canyon",
    "a crowded market",
    "a frozen lake",
    "an autumn park",
    "a volcanic island",
    "the rooftops of Paris",
    "a bamboo grove",
    "a moonlit beach",
    "a glacier cave",
)
STYLES = (
    "macro lens",
    "slow dolly forward",
    "golden hour light",
    "handheld documentary",
    "35mm film grain",
    "aerial drone shot",
    "studio lighting",
    "anime style",
    "black and white",
    "tilt-shift miniature",
    "cinematic wide shot",
    "watercolor look",
    "time-lapse",
)
RARE = " A zebra watches from afar."
RARE_EVERY = 10_000


def populate(count: int):
    """A team of 50 with `count` generations; returns (team, members, seconds the INSERT took)."""
    from django.db import connection
    from django.test.utils import override_settings

    from accounts.models import Team
    from accounts.teams import create_member
    from playground import catalog
    from playground.models import Generation

    team = Team.objects.create(name=f"Search benchmark {secrets.token_hex(3)}")
    # 50 members: the production hasher would spend most of a minute here.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        members = [
            create_member(f"search{n}-{team.pk}", team, password="x" * 12) for n in range(MEMBERS)
        ]
    # Every column the series does not vary is copied from this row, so the
    # INSERT needs no list of the table's columns and their defaults.
    template = Generation.objects.create(
        owner=members[0],
        team=team,
        model_id="kling/v2-1",
        input={},
        state=Generation.SUCCESS,
        progress=100,
        video="generations/bench/clip.mp4",
        poster="generations/bench/clip.jpg",
        duration=5.0,
        width=854,
        height=480,
        quoted_credits="55.00",
        charged_credits="55.00",
        price_breakdown="bench",
    )
    models = sorted(spec.id for spec in catalog.all_specs())
    step = max(1, int(SPAN.total_seconds()) // count)  # seconds between two rows
    lists = {
        "subjects": SUBJECTS,
        "actions": ACTIONS,
        "places": PLACES,
        "styles": STYLES,
        "members": [member.pk for member in members],
        "models": models,
    }
    # The lists as small tables (a CTE each), the only parameters of the statement.
    ctes, params = [], []
    for name, values in lists.items():
        ctes.append(f"{name}(n, v) AS (VALUES {', '.join(['(%s, %s)'] * len(values))})")
        for number, value in enumerate(values):
            params += [number, value]
    ctes.append("rare(v) AS (VALUES (%s))")
    params.append(RARE)
    ctes.append("template AS (SELECT * FROM playground_generation WHERE id = %s)")
    params.append(template.pk)
    prompt = (
        "subjects.v || ' ' || actions.v || ' ' || places.v || ', ' || styles.v || '.' || "
        f"CASE WHEN i %% {RARE_EVERY} = {RARE_EVERY // 2} THEN rare.v ELSE '' END"
    )
    ago = f"({count - 1} - i) * {step}"  # the newest row has the highest id, as in production
    if connection.vendor == "postgresql":
        series = f"generate_series(0, {count - 1}) AS series(i)"
        prompt_json = f"jsonb_build_object('prompt', {prompt}, 'duration', 5)"
        created = f"now() - {ago} * interval '1 second'"
    else:
        ctes.insert(
            0, f"series(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM series WHERE i < {count - 1})"
        )
        series = "series"
        prompt_json = f"json_object('prompt', {prompt}, 'duration', 5)"
        # Django's text form of a UTC datetime on SQLite; whole seconds have no fraction.
        created = f"strftime('%%Y-%%m-%%d %%H:%%M:%%S', 'now', '-' || ({ago}) || ' seconds')"
    varied = {
        "task_id": "'gen_bench_' || i",
        "owner_id": "members.v",
        "model_id": "models.v",
        "model_name": "models.v",
        "input": prompt_json,
        "state": "CASE WHEN i %% 10 = 7 THEN 'fail' ELSE 'success' END",
        "created_at": created,
        "updated_at": created,
    }
    table = Generation._meta.db_table
    columns = [field.column for field in Generation._meta.concrete_fields if not field.primary_key]
    modulo = {"subjects": len(SUBJECTS), "actions": len(ACTIONS), "places": len(PLACES)}
    modulo |= {"styles": len(STYLES), "members": MEMBERS, "models": len(models)}
    # CROSS JOIN: on SQLite it keeps the series the outer loop (each list is
    # then looked up by an automatic index), where the planner, free to
    # choose, put it innermost: 2,000 rows took 85 s.
    lists_joined = " ".join(f"CROSS JOIN {name}" for name in modulo)
    matched = " AND ".join(f"{name}.n = i %% {size}" for name, size in modulo.items())
    sql = (
        f"WITH RECURSIVE {', '.join(ctes)} "
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(varied.get(column, f'template.{column}') for column in columns)} "
        f"FROM {series} {lists_joined} CROSS JOIN rare CROSS JOIN template WHERE {matched}"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        template.delete()
        if connection.vendor == "postgresql":
            # What autovacuum would have done by the time anyone searches.
            cursor.execute(f"VACUUM ANALYZE {table}")
    return team, members, time.perf_counter() - started


def measure(team, members, *, runs: int) -> tuple[list[PageTiming], str]:
    """The gallery's first page and its prompt searches; the plans of the search pages' query."""
    from django.db import connection
    from django.test import Client

    from bench.gallery import time_page

    client = Client()
    client.force_login(members[0])
    first = client.get("/gallery/?q=lighthouse").content.decode()
    older = re.search(r'<li id="load-more".*?href="\?(q=lighthouse&amp;after=[^"]+)"', first, re.S)
    next_page = "/gallery/?" + older.group(1).replace("&amp;", "&")
    variants = [
        ("first page, no search", "/gallery/"),
        ("search 'zebra' (1 row in 10,000)", "/gallery/?q=zebra"),
        ("search 'lighthouse' (1 row in 23)", "/gallery/?q=lighthouse"),
        ("search 'lighthouse', next page (cursor)", next_page),
        ("search 'through' (3 rows in 19)", "/gallery/?q=through"),
        ("search 'xylophone' (no row)", "/gallery/?q=xylophone"),
        ("search 'ox' (2 characters: icontains, 2 rows in 23)", "/gallery/?q=ox"),
        ("search 'lighthouse' by one author", f"/gallery/?q=lighthouse&author={members[1].pk}"),
    ]
    pages = [time_page(client, name, url, runs=runs) for name, url in variants]
    plans = []
    for page in pages[1:3]:
        if connection.vendor == "postgresql":
            explain = "EXPLAIN (ANALYZE, COSTS OFF) "
        else:
            explain = "EXPLAIN QUERY PLAN "
        with connection.cursor() as cursor:
            cursor.execute(explain + page.page_sql)
            rows = cursor.fetchall()
        # PostgreSQL's plan is one line a row, SQLite's the last of four columns.
        lines = [str(row[-1]) for row in rows]
        plans.append(f"{page.name}:\n" + "\n".join(lines))
    return pages, "\n\n".join(plans)


def report(table, count: int, seconds: float, pages: list[PageTiming]) -> None:
    """Rows of bench/run.py's table: the fill, then each page against the 100 ms goal."""
    table.add(
        f"search: {count:,} generations of {MEMBERS} members in one INSERT ... SELECT",
        f"{seconds:.1f} s ({count / seconds:,.0f} rows/s, every index and trigger in place)",
    )
    for page in pages:
        searched = page.name.startswith("search")
        table.add(
            f"gallery at {count:,}: {page.name}",
            f"{page.p50_ms:.1f} ms median, {page.max_ms:.1f} ms max, {page.queries} queries; "
            f"of which the cards' query {page.page_query_ms:.1f} ms, "
            f"the per-member totals {page.totals_ms:.1f} ms"
            + ("" if page.status == 200 else f" (HTTP {page.status})"),
            "< 100 ms" if searched else "",
            page.p50_ms < 100 and page.status == 200 if searched else None,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file")
    parser.add_argument("--quick", action="store_true", help="20,000 generations")
    parser.add_argument("--rows", type=int, help="how many generations (default 1,000,000)")
    parser.add_argument("--runs", type=int, help="requests a page (default 7; --quick 3)")
    args = parser.parse_args()
    count = args.rows or (20_000 if args.quick else 1_000_000)
    runs = args.runs or (3 if args.quick else 7)

    from bench.run import Table
    from bench.stack import BenchStack

    workdir = Path(tempfile.mkdtemp(prefix="reelgate-bench-search-"))
    stack = None
    if args.sqlite:
        path = workdir / "bench.sqlite3"
        for name in ("DATABASE_URL", "REDIS_URL"):
            os.environ.pop(name, None)
        os.environ.update(
            {
                "DATABASE_URL": f"sqlite:///{path}",
                "MEDIA_ROOT": str(workdir / "media"),
                "STATIC_ROOT": str(workdir / "static"),
                "SECRET_KEY": "bench-" + secrets.token_urlsafe(32),
                "ALLOWED_HOSTS": "testserver",
                "LOG_LEVEL": "WARNING",
            }
        )
        where = f"SQLite {path}"
    else:
        stack = BenchStack(tag=f"search_{secrets.token_hex(4)}").create()
        os.environ.update(stack.env)
        where = f"PostgreSQL database {stack.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Whitenoise warns of a missing STATIC_ROOT; nothing is collected into it.
    Path(os.environ["STATIC_ROOT"]).mkdir(parents=True, exist_ok=True)
    table = Table()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        print(f"search: {where}, {count:,} generations", flush=True)
        call_command("migrate", verbosity=0)
        team, members, seconds = populate(count)
        print(f"  filled in {seconds:.1f} s", flush=True)
        pages, plans = measure(team, members, runs=runs)
        report(table, count, seconds, pages)
        print()
        print(table.text())
        print()
        print(plans)
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if stack is not None:
            stack.close()
            print(f"removed database {stack.database}", flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
