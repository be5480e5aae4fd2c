"""The usage page (/usage/) and the gallery's first page at 1,000,000 generations.

One team of 50 members, each with two API keys, makes `count` generations
over a year: a few models (the first ones more often), two upstream
providers, 8 % failures with three codes, 20 to 300 s from submit to finish.
PostgreSQL writes them itself in one INSERT ... SELECT over generate_series
(seeded random(), so every run writes the same rows); the usage rollup is
then counted from them by playground/usage.py rebuild(), the counting the
migration uses, and every table is ANALYZEd. The pages are rendered in
this process through Django's test client, as bench/gallery.py does: the
median and worst of several runs, and the SQL queries of each. A team with a
single generation must issue as many queries as the big one.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from accounts import apikeys
from accounts.models import Team
from accounts.teams import create_member
from bench.gallery import PageTiming, time_page
from playground import catalog, usage
from playground.models import (
    Generation,
    Provider,
    UsageDay,
    UsageFailure,
    UsageMemberDay,
    UsageModelDay,
)

MEMBERS = 50
SPAN_DAYS = 365

FILL = """
WITH drawn AS (
    SELECT g,
           floor(random() * %(members)s)::int AS member,
           -- squared: the first models are picked more often, as in a real team
           floor(power(random(), 2) * cardinality(%(models)s::text[]))::int AS model,
           random() AS key_draw,
           random() < 0.92 AS succeeded,
           random() AS code_draw,
           (20 + floor(random() * 281))::int AS took,
           %(start)s::timestamptz + (g::float8 / %(count)s) * %(span)s::interval AS made
    FROM generate_series(1, %(count)s) AS g
)
INSERT INTO playground_generation (
    task_id, owner_id, team_id, api_key_id, source, contract, model_id, model_name,
    input, request, state, progress, fail_code, fail_msg, provider_id, upstream_ref,
    upstream_state, poll_count, poll_errors, video, poster, has_audio, quoted_credits,
    charged_credits, price_breakdown, callback_url, base_url, idempotency_key,
    request_hash, lease_holder, attempts, created_at, updated_at, started_at, completed_at
)
SELECT
    'gen_usagebench' || g,
    (%(owners)s::bigint[])[member + 1],
    %(team)s,
    CASE WHEN key_draw < 0.7 THEN (%(first_keys)s::bigint[])[member + 1]
         WHEN key_draw < 0.9 THEN (%(second_keys)s::bigint[])[member + 1] END,
    CASE WHEN key_draw < 0.9 THEN 'api' ELSE 'playground' END,
    'jobs',
    (%(models)s::text[])[model + 1],
    (%(models)s::text[])[model + 1],
    '{"prompt": "A paper boat drifting down a rainy street"}',
    '{}',
    CASE WHEN succeeded THEN 'success' ELSE 'fail' END,
    CASE WHEN succeeded THEN 100 ELSE 0 END,
    CASE WHEN succeeded THEN ''
         WHEN code_draw < 0.5 THEN 'UPSTREAM_ERROR'
         WHEN code_draw < 0.8 THEN 'TIMEOUT'
         ELSE 'CONTENT_VIOLATION' END,
    CASE WHEN succeeded THEN '' ELSE 'benchmark failure' END,
    -- a tenth of the failures never reached a provider
    CASE WHEN NOT succeeded AND code_draw > 0.9 THEN NULL
         WHEN model < 3 THEN %(provider_a)s ELSE %(provider_b)s END,
    '', '{}', 0, 0,
    CASE WHEN succeeded THEN 'generations/bench/' || g || '.mp4' ELSE '' END,
    CASE WHEN succeeded THEN 'generations/bench/' || g || '.jpg' ELSE '' END,
    false,
    (%(prices)s::numeric[])[model + 1],
    CASE WHEN succeeded THEN (%(prices)s::numeric[])[model + 1] ELSE 0 END,
    'bench', '', '', '', '', '', 1,
    made,
    made + took * interval '1 second',
    made + interval '1 second',
    made + took * interval '1 second'
FROM drawn
"""


def populate(count: int) -> tuple[Team, list, dict[str, float]]:
    """The team, its members, and how long each step took (seconds)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    team = Team.objects.create(name="Usage benchmark")
    # Members are signed in with force_login: a fast hasher spares 50 slow hashes.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        members = [create_member(f"usage{n}", team, password="x" * 12) for n in range(MEMBERS)]
    first_keys = [apikeys.issue(member, "laptop")[0].pk for member in members]
    second_keys = [apikeys.issue(member, "ci")[0].pk for member in members]
    provider_a = Provider.objects.create(name="Upstream A", kind=Provider.JOBS, enabled=False)
    provider_b = Provider.objects.create(name="Upstream B", kind=Provider.JOBS, enabled=False)
    models = sorted(spec.id for spec in catalog.all_specs())
    prices = [Decimal(55 + 10 * n) for n in range(len(models))]
    span = timedelta(days=SPAN_DAYS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            FILL,
            {
                "members": MEMBERS,
                "models": models,
                "prices": prices,
                "count": count,
                "start": timezone.now() - span,
                "span": span,
                "owners": [member.pk for member in members],
                "first_keys": first_keys,
                "second_keys": second_keys,
                "team": team.pk,
                "provider_a": provider_a.pk,
                "provider_b": provider_b.pk,
            },
        )
    seconds["generations"] = time.perf_counter() - started
    started = time.perf_counter()
    usage.rebuild(team_ids=[team.pk])
    seconds["rollup"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        for model in (Generation, UsageDay, UsageMemberDay, UsageModelDay, UsageFailure):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return team, members, seconds


def measure(team: Team, members: list, *, runs: int) -> list[PageTiming]:
    """The usage page over the last 90 days in its variants, its CSV, the gallery's
    first page; then the usage page of a team of one generation (as many queries)."""
    client = Client()
    client.force_login(members[0])
    until = timezone.now().astimezone(team.zone).date()
    days = f"date_from={until - timedelta(days=89)}&date_to={until}"
    pages = [
        time_page(client, "usage, 90 days, per day by member", f"/usage/?{days}", runs=runs),
        time_page(
            client,
            "usage, 90 days, per week by model",
            f"/usage/?{days}&period=week&group=model",
            runs=runs,
        ),
        time_page(client, "usage, 90 days, by API key", f"/usage/?{days}&group=api_key", runs=runs),
        time_page(client, "usage, 90 days, one's own", f"/usage/?{days}&whose=mine", runs=runs),
        time_page(client, "usage CSV, 90 days", f"/usage/export.csv?{days}", runs=runs),
        time_page(
            client,
            "usage, a year per month",
            f"/usage/?period=month&date_from={until - timedelta(days=364)}&date_to={until}",
            runs=runs,
        ),
        time_page(client, "gallery, first page (totals from the rollup)", "/gallery/", runs=runs),
    ]
    lone_team = Team.objects.create(name="Usage benchmark, small")
    lone = create_member("usage-lone", lone_team, password="x" * 12)
    Generation.objects.create(
        owner=lone,
        team=lone_team,
        model_id="kling/v2-1",
        state=Generation.SUCCESS,
        completed_at=timezone.now(),
    )
    usage.rebuild(team_ids=[lone_team.pk])
    client.force_login(lone)
    pages.append(
        time_page(client, "usage, 90 days, team of 1 generation", f"/usage/?{days}", runs=runs)
    )
    return pages


def rollup_rows(team: Team) -> dict[str, int]:
    """How many rows each rollup holds for the team."""
    return {
        rollup.__name__: rollup.objects.filter(team=team).count()
        for rollup in (UsageDay, UsageMemberDay, UsageModelDay, UsageFailure)
    }
