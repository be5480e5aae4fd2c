"""The account page's ledger: one line per generation, its entries folded
underneath, and the CSV export of a date range."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import apikeys, ledger
from accounts.models import LedgerEntry
from playground import services

PROMPT = "A lighthouse in a storm, waves crashing against the rocks, cinematic, golden hour"


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def submit(user, api_key=None, prompt=PROMPT):
    return services.submit(user=user, api_key=api_key, model="kling/v2-1", input={"prompt": prompt})


def test_it_shows_one_line_per_generation_with_its_entries_folded(signed_in, alice, bob):
    key, _ = apikeys.issue(bob, "bob's script")
    charged = submit(alice)
    released = submit(bob, key, prompt="A paper boat")
    running = submit(alice, prompt="A red fox")
    ledger.capture(charged.hold_reference)
    ledger.release(released.hold_reference)
    content = signed_in.get("/account/").content.decode()
    assert content.count('<tbody class="ledger-line">') == 4  # three generations and the grant
    assert content.count("<summary>Ledger entries</summary>") == 3
    assert f'<a href="/generations/{charged.task_id}/">kling/v2-1</a>' in content
    assert PROMPT[:79] + "…" in content
    assert f"key {key.prefix}…" in content
    for task, outcome in ((charged, "Charged"), (released, "Released"), (running, "Held")):
        line = content.split(f'href="/generations/{task.task_id}/"')[1].split("</tbody>")[0]
        assert f">{outcome}</span>" in line
    charged_line = content.split(f'href="/generations/{charged.task_id}/"')[1]
    assert "-55.00" in charged_line.split("</tbody>")[0]
    assert charged_line.count(">Hold</span>") >= 1 and ">Capture</span>" in charged_line


def test_it_pages_by_line_not_by_entry(signed_in, alice):
    ledger.grant(alice.profile.team.wallet, Decimal("2000.00"), note="plenty")
    generations = [submit(alice, prompt=f"Shot {n:02d}") for n in range(30)]
    for generation in generations:
        ledger.capture(generation.hold_reference)
    first = signed_in.get("/account/").content.decode()
    assert first.count('<tbody class="ledger-line">') == 25  # 62 entries, 32 lines
    older = first.split('href="?after=')[1].split("#")[0]
    second = signed_in.get(f"/account/?after={older}").content.decode()
    assert second.count('<tbody class="ledger-line">') == 7
    assert "Shot 04" in second and "test credits" in second and "Shot 05" not in second


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_export_has_one_row_per_generation_in_the_range(signed_in, alice, bob):
    team = alice.profile.team
    team.time_zone = "Asia/Tokyo"
    team.save()
    key, _ = apikeys.issue(bob, "bob's script")
    old = submit(alice, prompt="Last month")
    LedgerEntry.objects.filter(reference=old.hold_reference).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    kept = submit(bob, key)
    ledger.capture(kept.hold_reference, Decimal("20.00"))
    today = timezone.now().astimezone(team.zone).date()
    response = signed_in.get(
        "/account/ledger.csv", {"start": today - timedelta(days=7), "end": today.isoformat()}
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    rows = read_csv(response)
    assert [row["kind"] for row in rows] == ["grant", "generation"]
    line = rows[1]
    assert line["task_id"] == kept.task_id and line["model"] == "kling/v2-1"
    assert (line["member"], line["api_key"]) == ("bob", key.prefix)
    assert (line["held"], line["outcome"], line["balance_change"]) == ("55.00", "charged", "-20.00")
    assert line["date"].endswith("+09:00")


def test_the_csv_export_refuses_a_range_it_cannot_read(signed_in):
    assert signed_in.get("/account/ledger.csv").status_code == 400
    backwards = signed_in.get("/account/ledger.csv", {"start": "2026-12-02", "end": "2026-12-01"})
    assert backwards.status_code == 400
    assert b"comes after its end" in backwards.content


def test_an_outsider_exports_only_their_own_teams_ledger(client, alice, carol):
    submit(alice)
    client.force_login(carol)
    today = timezone.now().date()
    rows = read_csv(client.get("/account/ledger.csv", {"start": today, "end": today}))
    assert [row["note"] for row in rows] == ["test credits"]


def test_a_member_reads_their_own_generations_and_the_teams_grants(client, alice, bob):
    mine = submit(bob, prompt="Bob's boat")
    theirs = submit(alice, prompt="Alice's fox")
    client.force_login(bob)
    content = client.get("/account/").content.decode()
    assert mine.task_id in content and theirs.task_id not in content
    assert "test credits" in content
    today = timezone.now().date()
    rows = read_csv(client.get("/account/ledger.csv", {"start": today, "end": today}))
    assert [row["task_id"] for row in rows] == ["", mine.task_id]
