"""The usage rollup always equals the generations it counts.

Random sequences of submits, successes, failures and cancels go through the
real services and lifecycle; the rollup is then compared with sums the
database computes from the generations table (days in each team's own time
zone) and with the ledger's captures. Two settles of one key at once both
count, and the migration fills the rollup from generations that finished
before it existed.
"""

import bisect
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import apikeys, ledger
from accounts.models import LedgerEntry, Team
from playground import lifecycle, services, usage
from playground.models import (
    Generation,
    Provider,
    UsageDay,
    UsageFailure,
    UsageKeyDay,
    UsageMemberDay,
    UsageModelDay,
    UsageProviderDay,
)

REQUESTS = {
    "kling/v2-1": {"prompt": "A paper boat on a rainy street", "resolution": "480p"},
    "kling-v2-6": {
        "prompt": "A lighthouse",
        "aspect_ratio": "16:9",
        "mode": "std",
        "duration": "5",
    },
}
# Far apart, so one moment is often a different date in each.
ZONES = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata", "America/New_York"]
FAIL_CODES = ["UPSTREAM_ERROR", "TIMEOUT", "CONTENT_VIOLATION"]


# -- what the rollup should hold, computed from the generations ---------------


def expected_days() -> dict[tuple, dict]:
    """Per rollup key: successes, failures and credits charged, summed by the database."""
    expected = {}
    for team in Team.objects.all():
        rows = (
            Generation.objects.filter(team=team, state__in=Generation.FINISHED)
            .annotate(day=TruncDate("completed_at", tzinfo=ZoneInfo(team.time_zone)))
            .values("day", "owner_id", "model_id", "api_key__prefix", "provider__name")
            .annotate(
                succeeded=Count("id", filter=Q(state=Generation.SUCCESS)),
                failed=Count("id", filter=Q(state=Generation.FAIL)),
                charged=Sum("charged_credits"),
            )
        )
        for row in rows:
            key = (
                team.pk,
                row["day"],
                row["owner_id"],
                row["model_id"],
                row["api_key__prefix"] or "",
                row["provider__name"] or "",
            )
            expected[key] = {
                "succeeded": row["succeeded"],
                "failed": row["failed"],
                "charged": Decimal(row["charged"]).quantize(Decimal("0.01")),
            }
    return expected


def rollup_days() -> dict[tuple, dict]:
    return {
        (
            row.team_id,
            row.day,
            row.member_id,
            row.model_id,
            row.api_key_prefix,
            row.provider_name,
        ): {
            "succeeded": row.succeeded,
            "failed": row.failed,
            "charged": row.charged_credits,
        }
        for row in UsageDay.objects.all()
    }


def expected_times() -> tuple[dict, dict]:
    """Per (team, member, model): the successes' total ms and their count per time range."""
    totals: dict[tuple, int] = defaultdict(int)
    ranges: dict[tuple, Counter] = defaultdict(Counter)
    for row in Generation.objects.filter(state=Generation.SUCCESS):
        took = (row.completed_at - row.created_at) // timedelta(milliseconds=1)
        key = (row.team_id, row.owner_id, row.model_id)
        totals[key] += took
        # The first bound at or above it, in ms; past the last, the last range.
        ranges[key][bisect.bisect_left([b * 1000 for b in UsageDay.DURATION_BOUNDS], took)] += 1
    return dict(totals), {key: +counter for key, counter in ranges.items()}


def rollup_times() -> tuple[dict, dict]:
    totals: dict[tuple, int] = defaultdict(int)
    ranges: dict[tuple, Counter] = defaultdict(Counter)
    for row in UsageDay.objects.all():
        key = (row.team_id, row.member_id, row.model_id)
        totals[key] += row.success_ms
        for index, name in enumerate(UsageDay.duration_fields()):
            ranges[key][index] += getattr(row, name)
    totals = {key: ms for key, ms in totals.items() if ms or ranges[key].total()}
    return totals, {key: +counter for key, counter in ranges.items() if counter.total()}


def expected_failures() -> Counter:
    counts = Counter()
    for row in Generation.objects.filter(state=Generation.FAIL).select_related("team"):
        day = row.completed_at.astimezone(ZoneInfo(row.team.time_zone)).date()
        counts[(row.team_id, day, row.owner_id, row.model_id, row.fail_code)] += 1
    return counts


def rollup_failures() -> Counter:
    return Counter(
        {
            (row.team_id, row.day, row.member_id, row.model_id, row.fail_code): row.count
            for row in UsageFailure.objects.all()
        }
    )


def summed(rollup, keys: tuple[str, ...]) -> dict[tuple, tuple]:
    """A rollup's sums per `keys`: every column it keeps."""
    columns = ("succeeded", "failed", "charged_credits", "success_ms", *UsageDay.duration_fields())
    rows = rollup.objects.values(*keys).annotate(**{f"sum_{c}": Sum(c) for c in columns})
    return {
        tuple(row[key] for key in keys): tuple(row[f"sum_{c}"] for c in columns)
        for row in rows.order_by()
    }


def assert_rollup_matches_generations(*, charged_in_ledger: bool = True) -> None:
    assert rollup_days() == expected_days()
    assert rollup_times() == expected_times()
    assert rollup_failures() == expected_failures()
    # The summaries hold UsageDay's sums with fewer keys.
    for summary, column in (
        (UsageMemberDay, "member_id"),
        (UsageModelDay, "model_id"),
        (UsageKeyDay, "api_key_prefix"),
        (UsageProviderDay, "provider_name"),
    ):
        keys = ("team_id", "day", column)
        assert summed(summary, keys) == summed(UsageDay, keys), summary.__name__
    if not charged_in_ledger:
        return
    # And the money: what the rollup says each member was charged is what
    # the ledger captured from them.
    captured = {
        member: -amount
        for member, amount in LedgerEntry.objects.filter(kind=LedgerEntry.CAPTURE)
        .values("member_id")
        .annotate(amount=Sum("amount"))
        .values_list("member_id", "amount")
    }
    charged = dict(
        UsageDay.objects.values("member_id")
        .annotate(charged=Sum("charged_credits"))
        .values_list("member_id", "charged")
    )
    assert {m: c for m, c in charged.items() if c} == {m: c for m, c in captured.items() if c}


# -- random histories through the real services -------------------------------

step = st.tuples(
    st.sampled_from(["alice", "bob", "carol"]),
    st.sampled_from(sorted(REQUESTS)),
    st.booleans(),  # through an API key, or the playground
    st.sampled_from(["succeed", "fail", "cancel queued", "cancel running", "leave running"]),
    st.integers(min_value=0, max_value=5000),  # seconds since the submit, when it finishes
    st.sampled_from(FAIL_CODES),
    st.sampled_from(["local", "other", "none"]),  # the provider it ends at
)


@pytest.fixture
def cast(alice, bob, carol, local_renderer):
    """Everyone a history may use, with credits for any of them and an API key each."""
    other = Provider.objects.create(name="Other upstream", kind=Provider.JOBS, enabled=False)
    for user in (alice, carol):
        ledger.grant(user.profile.team.wallet, Decimal("100000"), note="for the histories")
    keys = {user.username: apikeys.issue(user, "histories")[0] for user in (alice, bob, carol)}
    users = {"alice": alice, "bob": bob, "carol": carol}
    providers = {"local": local_renderer, "other": other, "none": None}
    return users, keys, providers


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=st.lists(step, min_size=1, max_size=14),
    zones=st.tuples(st.sampled_from(ZONES), st.sampled_from(ZONES)),
)
def test_the_rollup_is_the_sum_of_the_generations(cast, history, zones):
    users, keys, providers = cast
    with transaction.atomic():
        Team.objects.filter(name="Studio").update(time_zone=zones[0])
        Team.objects.filter(name="Elsewhere").update(time_zone=zones[1])
        for who, model, with_key, ending, seconds, code, provider in history:
            generation = services.submit(
                user=users[who],
                model=model,
                input=REQUESTS[model],
                api_key=keys[who] if with_key else None,
            )
            # Submitted `seconds` ago, and ended at `provider`.
            Generation.objects.filter(pk=generation.pk).update(
                created_at=timezone.now() - timedelta(seconds=seconds),
                provider=providers[provider],
            )
            if ending == "cancel queued":
                assert services.cancel(generation)
                continue
            assert lifecycle.claim(generation.pk, "w1") is not None
            if ending == "leave running":
                continue
            if ending == "succeed":
                assert lifecycle.succeed(generation.pk, "w1")
            elif ending == "fail":
                assert lifecycle.fail(generation.pk, code, "it broke", worker="w1")
            else:
                assert services.cancel(Generation.objects.get(pk=generation.pk))
            # A second settle of a finished generation changes nothing.
            assert not lifecycle.fail(generation.pk, "TIMEOUT", "again")
            assert not lifecycle.succeed(generation.pk, "w1")
        assert_rollup_matches_generations()
        transaction.set_rollback(True)  # the next history starts from nothing


# -- settles at once -----------------------------------------------------------


def at_once(*calls) -> list:
    """Run each call on its own thread and connection, released together."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = calls[index]()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def in_hand(user, worker: str, **fields) -> Generation:
    """A generation claimed by `worker`, committed so: the session's workers and
    sweeper, sharing the database, never see it queued or its lease run out."""
    with transaction.atomic():
        generation = services.submit(
            user=user, model="kling/v2-1", input=REQUESTS["kling/v2-1"], **fields
        )
        assert lifecycle.claim(generation.pk, worker) is not None
        Generation.objects.filter(pk=generation.pk).update(
            lease_expires_at=timezone.now() + timedelta(hours=1)
        )
    return generation


@pytest.mark.django_db(transaction=True)
def test_two_settles_of_the_same_key_at_once_both_count(alice):
    key, _ = apikeys.issue(alice, "busy")
    generations = [in_hand(alice, f"w{n}", api_key=key) for n in range(4)]
    first, second, third, fourth = (g.pk for g in generations)

    assert at_once(
        lambda: lifecycle.succeed(first, "w0"), lambda: lifecycle.succeed(second, "w1")
    ) == [True, True]
    assert at_once(
        lambda: lifecycle.fail(third, "TIMEOUT", "slow", worker="w2"),
        lambda: lifecycle.fail(fourth, "TIMEOUT", "slow", worker="w3"),
    ) == [True, True]

    for rollup in (UsageDay, UsageMemberDay, UsageModelDay, UsageKeyDay, UsageProviderDay):
        (row,) = rollup.objects.all()
        assert (row.succeeded, row.failed, row.charged_credits) == (2, 2, Decimal("110.00"))
    assert UsageFailure.objects.get().count == 2
    assert_rollup_matches_generations()


@pytest.mark.django_db(transaction=True)
def test_an_insert_that_loses_the_race_for_a_new_key_adds_to_the_winners_row(alice):
    """The first settle of a key inserts its row and holds its transaction open
    while a second settle of the same key finds no row and inserts too: the
    second waits for the first (on PostgreSQL at the unique index, on SQLite
    at the start of its transaction), then adds to the row the first made."""
    generations = [in_hand(alice, "w1") for _ in range(2)]
    Generation.objects.filter(pk__in=[g.pk for g in generations]).update(
        state=Generation.SUCCESS, completed_at=timezone.now(), charged_credits=Decimal("55.00")
    )
    first, second = (Generation.objects.get(pk=g.pk) for g in generations)
    inserted = threading.Event()

    def settle_first() -> None:
        with transaction.atomic():
            usage.record(first, Decimal("55.00"))
            inserted.set()
            time.sleep(0.5)  # the second settle reaches its INSERT meanwhile

    def settle_second() -> None:
        inserted.wait(timeout=10)
        with transaction.atomic():
            usage.record(second, Decimal("55.00"))

    at_once(settle_first, settle_second)
    for rollup in (UsageDay, UsageMemberDay, UsageModelDay, UsageKeyDay, UsageProviderDay):
        (row,) = rollup.objects.all()
        assert (row.succeeded, row.charged_credits) == (2, Decimal("110.00"))


# -- the migration ---------------------------------------------------------------

BEFORE = [("playground", "0015_usage_rollup")]


def test_the_migration_counts_the_generations_finished_before_it(migrated_back, alice, carol):
    apps = migrated_back
    OldGeneration = apps.get_model("playground", "Generation")
    OldTeam = apps.get_model("accounts", "Team")
    OldTeam.objects.filter(pk=carol.profile.team_id).update(time_zone="Pacific/Kiritimati")
    finished = timezone.now().replace(hour=12, minute=0) - timedelta(days=3)
    common = {"model_id": "kling/v2-1", "quoted_credits": Decimal("55.00")}
    for owner, state, charged, code in (
        (alice, "success", "55.00", ""),
        (alice, "success", "40.00", ""),
        (alice, "fail", "0.00", "TIMEOUT"),
        (carol, "success", "55.00", ""),
        (carol, "generating", "0.00", ""),
    ):
        row = OldGeneration.objects.create(
            owner_id=owner.pk,
            team_id=owner.profile.team_id,
            state=state,
            charged_credits=Decimal(charged),
            fail_code=code,
            completed_at=finished if state in ("success", "fail") else None,
            **common,
        )
        OldGeneration.objects.filter(pk=row.pk).update(created_at=finished - timedelta(seconds=70))

    call_command("migrate", "playground", verbosity=0)

    # Rows made for the test: no ledger behind their charges.
    assert_rollup_matches_generations(charged_in_ledger=False)
    alices = UsageDay.objects.get(member=alice)
    assert (alices.succeeded, alices.failed, alices.charged_credits) == (2, 1, Decimal("95.00"))
    assert (alices.success_ms, alices.took_90s) == (140_000, 2)
    assert UsageDay.objects.get(member=carol).day == (
        finished.astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    )
