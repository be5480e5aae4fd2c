"""The usage page and its CSV: whose numbers, which days, how they add up."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import apikeys
from accounts.models import Team
from playground import usage
from playground.models import Generation, Provider


def finished(
    owner,
    *,
    at: datetime | None = None,
    state: str = Generation.SUCCESS,
    charged: str = "55.00",
    model: str = "kling/v2-1",
    took: float = 40,
    code: str = "UPSTREAM_ERROR",
    api_key=None,
    provider=None,
) -> Generation:
    """A generation that finished `at`, `took` seconds after its submit, counted
    in the rollup as lifecycle counts it when it settles."""
    at = at or timezone.now()
    row = Generation.objects.create(
        owner=owner,
        team_id=owner.profile.team_id,
        model_id=model,
        state=state,
        fail_code="" if state == Generation.SUCCESS else code,
        charged_credits=Decimal(charged) if state == Generation.SUCCESS else Decimal("0.00"),
        completed_at=at,
        api_key=api_key,
        provider=provider,
    )
    Generation.objects.filter(pk=row.pk).update(created_at=at - timedelta(seconds=took))
    row.refresh_from_db()
    usage.record(row, row.charged_credits)
    return row


def table_rows(content: str, table: str) -> dict[str, list[str]]:
    """A table's rows by their first (header) cell: the other cells' text."""
    body = content.split(f'<table class="{table}">')[1].split("</table>")[0]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]:
        head = re.sub(r"<[^>]+>", "", re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1))
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows[head.strip()] = [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]
    return rows


def chart(content: str) -> dict:
    found = re.search(r'<script id="usage-data" type="application/json">(.*?)</script>', content)
    return json.loads(found.group(1))


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="reelgate-usage-')
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_it_asks_to_sign_in_first(client):
    for url in ("/usage/", "/usage/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_it_shows_the_teams_spend_by_member_for_the_last_30_days(signed_in, alice, bob, carol):
    finished(alice)
    finished(alice, charged="40.00")
    finished(alice, state=Generation.FAIL)
    finished(bob, charged="10.50")
    finished(bob, at=timezone.now() - timedelta(days=45))  # before the range
    finished(carol, charged="99.00")  # another team

    content = signed_in.get("/usage/").content.decode()

    assert table_rows(content, "by-group") == {
        "alice": ["3", "2", "1", "66.7 %", "95.00", "40.0 s"],
        "bob": ["1", "1", "0", "100.0 %", "10.50", "40.0 s"],
    }
    assert '<dd id="total-charged">105.50</dd>' in content
    data = chart(content)
    assert len(data["x"]) == 30
    assert [series["label"] for series in data["charged"]] == ["alice", "bob"]
    assert sum(data["charged"][0]["values"]) == 95 and sum(data["succeeded"]) == 3
    assert sum(data["failed"]) == 1
    assert 'href="/usage/"' in content and 'aria-current="page">Usage' in content


def test_a_member_sees_nothing_but_their_own(client, alice, bob):
    finished(alice, charged="40.00")
    finished(bob, charged="10.50", model="kling-v2-6")
    client.force_login(bob)

    for query in ("", "?whose=team", "?group=member"):
        content = client.get(f"/usage/{query}").content.decode()
        assert '<dd id="total-charged">10.50</dd>' in content
        assert "alice" not in content
    content = client.get("/usage/").content.decode()
    assert list(table_rows(content, "by-group")) == ["Kling V2.6"]  # his model, not alice's
    assert 'name="whose"' not in content and "your own generations" in content
    rows = csv_rows(client.get("/usage/export.csv?whose=team&group=member"))
    assert [row[1] for row in rows[1:]] == ["bob"]


def test_an_owner_sees_the_team_or_their_own(client, alice, bob):
    finished(alice, charged="40.00")
    finished(bob, charged="10.50")
    client.force_login(alice)
    assert '<dd id="total-charged">50.50</dd>' in client.get("/usage/").content.decode()
    content = client.get("/usage/?whose=mine").content.decode()
    assert '<dd id="total-charged">40.00</dd>' in content
    assert "bob" not in table_rows(content, "by-group")


def test_an_outsider_sees_none_of_another_teams_usage(client, alice, carol):
    finished(alice, charged="40.00")
    client.force_login(carol)

    content = client.get("/usage/").content.decode()
    assert "No generation finished in these days." in content
    assert '<dd id="total-charged">0.00</dd>' in content and "alice" not in content
    assert csv_rows(client.get("/usage/export.csv")) == [
        [
            "period_start",
            "member",
            "generations",
            "succeeded",
            "failed",
            "credits_charged",
            "success_seconds_total",
        ]
    ]


def test_the_csv_has_the_pages_numbers_per_period_and_group(signed_in, alice, bob):
    today = timezone.now()
    key, _ = apikeys.issue(alice, "laptop")
    finished(alice, at=today, took=12.5, api_key=key)
    finished(alice, at=today, took=30, charged="40.00")
    finished(alice, at=today, state=Generation.FAIL, api_key=key)
    finished(bob, at=today - timedelta(days=1), took=100, charged="10.50")

    rows = csv_rows(signed_in.get("/usage/export.csv"))
    day, yesterday = (
        timezone.localdate(today).isoformat(),
        timezone.localdate(today - timedelta(days=1)).isoformat(),
    )
    assert rows == [
        [
            "period_start",
            "member",
            "generations",
            "succeeded",
            "failed",
            "credits_charged",
            "success_seconds_total",
        ],
        [yesterday, "bob", "1", "1", "0", "10.50", "100.000"],
        [day, "alice", "3", "2", "1", "95.00", "42.500"],
    ]
    by_key = csv_rows(signed_in.get("/usage/export.csv?group=api_key"))
    assert by_key[0][1] == "api_key_prefix"
    assert sorted(row[1:3] for row in by_key[1:]) == [["", "1"], ["", "1"], [key.prefix, "2"]]
    # The page offers the same filters as its download.
    content = signed_in.get("/usage/?group=api_key&period=week").content.decode()
    assert 'href="/usage/export.csv?group=api_key&amp;period=week"' in content
    assert f"{key.prefix}… laptop" in content and "No key (the playground)" in content


def test_weeks_and_months_are_the_teams_calendar(signed_in, alice):
    Team.objects.filter(pk=alice.profile.team_id).update(time_zone="Asia/Tokyo")
    # Sunday 23:30 in UTC is already Monday 08:30 in Tokyo: a new week there.
    finished(alice, at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    # Saturday Feb 28, 23:00 in Tokyo: the week of Monday Feb 23.
    finished(alice, at=datetime(2026, 2, 28, 14, 0, tzinfo=UTC), charged="10.00")
    # Jan 31, 20:00 UTC is Feb 1 in Tokyo: February's.
    finished(alice, at=datetime(2026, 1, 31, 20, 0, tzinfo=UTC), charged="1.00")
    window = "date_from=2026-01-01&date_to=2026-03-31"

    weeks = csv_rows(signed_in.get(f"/usage/export.csv?{window}&period=week"))
    assert [(row[0], row[5]) for row in weeks[1:]] == [
        ("2026-01-26", "1.00"),
        ("2026-02-23", "10.00"),
        ("2026-03-02", "55.00"),
    ]
    months = csv_rows(signed_in.get(f"/usage/export.csv?{window}&period=month"))
    assert [(row[0], row[5]) for row in months[1:]] == [
        ("2026-02-01", "11.00"),
        ("2026-03-01", "55.00"),
    ]
    content = signed_in.get(f"/usage/?{window}&period=month").content.decode()
    assert table_rows(content, "timeline") == {
        "January 2026": ["0", "0", "0", "0.00"],
        "February 2026": ["2", "2", "0", "11.00"],
        "March 2026": ["1", "1", "0", "55.00"],
    }
    data = chart(content)
    assert data["x"] == [
        int(datetime(2026, month, 1, tzinfo=UTC).timestamp()) for month in (1, 2, 3)
    ]
    assert data["charged"][0]["values"] == [0.0, 11.0, 55.0]


def test_each_model_has_its_success_rate_failures_and_times(signed_in, alice, bob):
    for took in (3, 4, 8, 12, 40):
        finished(alice, took=took)
    finished(bob, took=700)
    finished(alice, state=Generation.FAIL, code="TIMEOUT")
    finished(bob, state=Generation.FAIL, code="TIMEOUT")
    finished(bob, state=Generation.FAIL, code="CONTENT_VIOLATION")
    finished(alice, model="kling-v2-6", took=1)

    content = signed_in.get("/usage/").content.decode()

    rows = table_rows(content, "by-model")
    # Six successes: the median (third) took 8 s, in 5–10 s; the p95 (sixth) 700 s.
    assert rows["Kling 2.1"] == [
        "9",
        "66.7 %",
        "5 s–10 s",
        "10 min–15 min",
        "2.1 min",
        "TIMEOUT × 2 CONTENT_VIOLATION × 1",
    ]
    assert rows["Kling V2.6"] == ["1", "100.0 %", "≤ 2 s", "≤ 2 s", "1.0 s", "none"]
    assert "the true value lies inside it" in content


def test_it_groups_by_provider_and_by_model(signed_in, alice, local_renderer):
    finished(alice, provider=local_renderer)
    finished(alice, provider=local_renderer, model="kling-v2-6", charged="5.00")
    finished(alice, state=Generation.FAIL, code="CANCELLED")

    by_provider = table_rows(signed_in.get("/usage/?group=provider").content.decode(), "by-group")
    assert by_provider == {
        "Local renderer": ["2", "2", "0", "100.0 %", "60.00", "40.0 s"],
        "None (failed before a provider took it)": ["1", "0", "1", "0.0 %", "0.00", "—"],
    }
    by_model = table_rows(signed_in.get("/usage/?group=model").content.decode(), "by-group")
    assert list(by_model) == ["Kling 2.1", "Kling V2.6"]


def test_a_bad_range_falls_back_to_the_last_30_days(signed_in, alice):
    finished(alice)
    content = signed_in.get("/usage/?date_from=2026-05-02&date_to=2026-05-01").content.decode()
    assert "The first day comes after the last." in content
    assert "left at their defaults" in content
    today = timezone.localdate()
    assert f'name="date_to" value="{today.isoformat()}"' in content
    assert len(chart(content)["x"]) == 30
    assert '<dd id="total-charged">55.00</dd>' in content
    content = signed_in.get("/usage/?date_from=2020-01-01&date_to=2026-01-01").content.decode()
    assert "Choose at most 1100 days." in content
    content = signed_in.get("/usage/?period=decade&group=model&whose=mine").content.decode()
    assert "Select a valid choice. decade is not one of the available choices." in content
    # The valid filters still apply.
    assert list(table_rows(content, "by-group")) == ["Kling 2.1"]
    assert '<option value="mine" selected>' in content


def test_its_queries_stay_constant_as_the_team_grows(signed_in, alice, bob):
    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert signed_in.get(url).status_code == 200
        return len(captured.captured_queries)

    start = timezone.now() - timedelta(days=20)
    for n in range(10):
        finished(alice if n % 2 else bob, at=start + timedelta(days=n), model="kling/v2-1")
    few = {url: count(url) for url in ("/usage/", "/usage/?group=api_key", "/usage/export.csv")}
    for n in range(40):
        finished(alice if n % 3 else bob, at=start + timedelta(days=n % 20), model="kling-v2-6")
        finished(alice, state=Generation.FAIL, code=f"CODE_{n % 4}", took=n)
    assert {url: count(url) for url in few} == few
    # Nothing reads the generations table: the rollup answers everything.
    with CaptureQueriesContext(connection) as captured:
        signed_in.get("/usage/?period=month&group=provider")
    assert not [q for q in captured.captured_queries if "playground_generation" in q["sql"]]


def test_days_before_the_rollup_or_after_today_are_empty_not_errors(signed_in, alice):
    content = signed_in.get("/usage/?date_from=2031-01-01&date_to=2031-01-03").content.decode()
    assert table_rows(content, "timeline") == {
        day: ["0", "0", "0", "0.00"]
        for day in ("Wed Jan 1, 2031", "Thu Jan 2, 2031", "Fri Jan 3, 2031")
    }


def test_formulas_never_reach_a_spreadsheet(signed_in, alice, local_renderer):
    Provider.objects.filter(pk=local_renderer.pk).update(name="=HYPERLINK(0)")
    finished(alice, provider=Provider.objects.get(pk=local_renderer.pk))
    rows = csv_rows(signed_in.get("/usage/export.csv?group=provider"))
    assert rows[1][1] == "'=HYPERLINK(0)"


def test_the_chart_draws_the_biggest_spenders_apart_and_the_rest_as_others(signed_in, alice):
    keys = [apikeys.issue(alice, f"script {n}")[0] for n in range(8)]
    today = timezone.now()
    for n, key in enumerate(keys):
        # key n spends n + 1 generations, today and yesterday
        for _ in range(n + 1):
            finished(alice, api_key=key, charged="10.00", at=today)
            finished(alice, api_key=key, charged="1.00", at=today - timedelta(days=1))
    content = signed_in.get("/usage/?group=api_key").content.decode()
    drawn = chart(content)["charged"]
    # Six keys apart, the biggest first; the two smallest (1 and 2 generations a day) as others.
    assert [series["label"].split("…")[0] for series in drawn[:6]] == [
        key.prefix for key in reversed(keys[2:])
    ]
    assert drawn[0]["values"][-2:] == [8.0, 80.0]
    assert drawn[6]["label"] == "2 others"
    assert drawn[6]["values"][-2:] == [3.0, 30.0]
    # The table lists every key, the chart's others too.
    rows = table_rows(content, "by-group")
    assert len(rows) == 8
