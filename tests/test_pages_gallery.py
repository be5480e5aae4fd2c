"""The team gallery: isolation, filters, keyset pages, constant queries, member totals."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from playground import usage
from playground.models import Generation
from playground.pages.gallery import PAGE_SIZE

HTMX = {"HTTP_HX_REQUEST": "true"}


def make_generations(owner, count, **fields):
    """Rows straight into the table, as many as a test needs, in one query; the
    usage rollup, which the totals read, counted again from them."""
    rows = []
    for number in range(count):
        values = {
            "owner": owner,
            "team_id": owner.profile.team_id,
            "model_id": "kling/v2-1",
            "input": {"prompt": f"{owner.username} prompt {number}", "duration": 5},
            "state": Generation.SUCCESS,
            "quoted_credits": Decimal("55.00"),
            "charged_credits": Decimal("55.00"),
            "video": f"generations/x{number}/clip.mp4",
            "poster": f"generations/x{number}/clip.jpg",
        }
        values.update(fields)
        rows.append(Generation(**values))
    made = Generation.objects.bulk_create(rows)
    usage.rebuild(team_ids=[owner.profile.team_id])
    return made


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def task_ids(content: str) -> list[str]:
    return re.findall(r'<li class="card gallery-card[^"]*" data-task-id="([^"]+)"', content)


def test_it_invites_a_first_prompt_when_empty(signed_in):
    content = signed_in.get("/gallery/").content.decode()
    assert "No generations yet — try a prompt." in content


def test_a_teammate_sees_the_teams_generations_and_an_outsider_does_not(client, alice, bob, carol):
    alices = make_generations(alice, 2)
    make_generations(carol, 1, input={"prompt": "carol's secret"})
    client.force_login(bob)
    content = client.get("/gallery/").content.decode()
    assert set(task_ids(content)) == {g.task_id for g in alices}
    client.force_login(carol)
    content = client.get("/gallery/").content.decode()
    assert not set(task_ids(content)) & {g.task_id for g in alices}
    assert "carol&#x27;s secret" in content


def test_it_shows_what_each_card_needs(signed_in, alice):
    (done,) = make_generations(alice, 1)
    (failed,) = make_generations(
        alice,
        1,
        state=Generation.FAIL,
        charged_credits=Decimal("0.00"),
        fail_code="CONTENT_VIOLATION",
        fail_msg="blocked term",
        video="",
        poster="",
    )
    content = signed_in.get("/gallery/").content.decode()
    card = content.split(f'data-task-id="{done.task_id}"')[1].split("</li>")[0]
    assert 'poster="/media/generations/x0/clip.jpg"' in card
    assert "data-hover-play" in card and "<strong>Kling 2.1</strong>" in card
    assert "alice prompt 0" in card and '<span class="author">alice</span>' in card
    assert "55.00 credits" in card
    card = content.split(f'data-task-id="{failed.task_id}"')[1].split("</li>")[0]
    assert "CONTENT_VIOLATION: blocked term" in card and "no charge" in card


def test_its_queries_stay_constant_as_the_team_grows(
    signed_in, alice, bob, django_assert_max_num_queries
):
    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert signed_in.get("/gallery/").status_code == 200
        return [query["sql"] for query in captured.captured_queries]

    make_generations(alice, 15)
    make_generations(bob, 15)
    at_30 = queries()
    make_generations(alice, 30)
    at_60 = queries()
    assert len(at_30) == len(at_60)
    with django_assert_max_num_queries(len(at_30)):
        signed_in.get("/gallery/?model=kling/v2-1&state=success&q=prompt")
    # No OFFSET, and the one aggregate is the per-member totals, read from the
    # usage rollup: nothing adds up the generations themselves.
    assert not any("OFFSET" in sql.upper() for sql in at_60)
    grouped = [sql for sql in at_60 if "GROUP BY" in sql.upper()]
    assert len(grouped) == 1 and "playground_usagememberday" in grouped[0]
    assert not any(
        "COUNT(" in sql.upper() or "SUM(" in sql.upper() for sql in at_60 if sql not in grouped
    )


def test_its_pages_have_no_duplicates_or_gaps(signed_in, alice, bob):
    rows = make_generations(alice, 40) + make_generations(bob, 30)
    # Ties on created_at are broken by id: give a block of rows one timestamp.
    same = timezone.now() - timedelta(minutes=5)
    Generation.objects.filter(pk__in=[row.pk for row in rows[10:50]]).update(created_at=same)
    expected = list(
        Generation.objects.order_by("-created_at", "-id").values_list("task_id", flat=True)
    )

    seen, url, last = [], "/gallery/", ""
    while url:
        last, content = url, signed_in.get(url).content.decode()
        page = task_ids(content)
        assert 0 < len(page) <= PAGE_SIZE
        seen += page
        found = re.search(r'<li id="load-more".*?href="\?(after=[^"]+)"', content, re.S)
        url = f"/gallery/?{found.group(1)}" if found else None
    assert seen == expected

    # ...and back again from the last page with the "Newer" links.
    content = signed_in.get(last).content.decode()
    back = task_ids(content)
    while (newer := re.search(r'href="\?(before=[^"]+)"', content)) is not None:
        content = signed_in.get(f"/gallery/?{newer.group(1)}").content.decode()
        back = task_ids(content) + back
    assert back == expected


def test_load_more_answers_only_the_next_cards(signed_in, alice):
    make_generations(alice, PAGE_SIZE + 5)
    first = signed_in.get("/gallery/").content.decode()
    after = re.search(r'hx-get="/gallery/\?(after=[^"]+)"', first).group(1)
    response = signed_in.get(f"/gallery/?{after}", HTTP_HX_TARGET="load-more", **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith('<li class="card gallery-card')
    assert len(task_ids(content)) == 5
    assert "load-more" not in content  # the last page
    assert "Credits charged by member" not in content


def test_it_totals_credits_per_member_in_one_aggregate(signed_in, alice, bob):
    make_generations(alice, 3)
    make_generations(bob, 2, charged_credits=Decimal("10.50"))
    make_generations(
        bob, 1, state=Generation.FAIL, charged_credits=Decimal("0.00"), video="", poster=""
    )
    content = signed_in.get("/gallery/").content.decode()
    alice_row = content.split('<tr data-member="alice">')[1].split("</tr>")[0]
    bob_row = content.split('<tr data-member="bob">')[1].split("</tr>")[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", alice_row) == ["3", "0", "165.00"]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", bob_row) == ["3", "1", "21.00"]


def test_the_totals_follow_the_model_author_and_state_filters(signed_in, alice, bob):
    make_generations(alice, 2)
    make_generations(alice, 1, model_id="google/veo-3-1", charged_credits=Decimal("80.00"))
    make_generations(bob, 1, state=Generation.FAIL, charged_credits=Decimal("0.00"))

    def totals(query: str) -> dict[str, list[str]]:
        content = signed_in.get(f"/gallery/?{query}").content.decode()
        rows = re.findall(r'<tr data-member="([^"]+)">(.*?)</tr>', content, re.S)
        return {name: re.findall(r"<td[^>]*>([^<]*)</td>", row) for name, row in rows}

    assert totals("") == {"alice": ["3", "0", "190.00"], "bob": ["1", "1", "0.00"]}
    assert totals("model=google/veo-3-1") == {"alice": ["1", "0", "80.00"]}
    assert totals(f"author={bob.pk}") == {"bob": ["1", "1", "0.00"]}
    assert totals("state=fail") == {"bob": ["1", "1", "0.00"]}
    assert totals("state=success") == {"alice": ["3", "0", "190.00"]}
    assert totals("state=generating") == {}
    # The prompt search narrows the cards, not the totals.
    assert totals("q=zebra") == totals("")


def test_it_filters_by_model_author_state_date_and_prompt(signed_in, alice, bob):
    (veo,) = make_generations(alice, 1, model_id="google/veo-3-1", input={"prompt": "a red fox"})
    (bobs,) = make_generations(bob, 1, input={"prompt": "A Red Kite over hills"})
    (failed,) = make_generations(alice, 1, state=Generation.FAIL, video="", poster="")
    (old,) = make_generations(alice, 1, input={"prompt": "old red barn"})
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))

    def shown(query: str) -> set[str]:
        return set(task_ids(signed_in.get(f"/gallery/?{query}").content.decode()))

    assert shown("model=google/veo-3-1") == {veo.task_id}
    assert shown(f"author={bob.pk}") == {bobs.task_id}
    assert shown("state=fail") == {failed.task_id}
    assert shown("q=red") == {veo.task_id, bobs.task_id, old.task_id}  # any case
    day = (timezone.localdate() - timedelta(days=10)).isoformat()
    assert shown(f"date_from={day}&date_to={day}") == {old.task_id}
    assert old.task_id not in shown(f"date_from={timezone.localdate().isoformat()}")
    assert (
        "No generations match these filters." in signed_in.get("/gallery/?q=zebra").content.decode()
    )


def test_filters_answer_htmx_with_the_results_alone(signed_in, alice):
    make_generations(alice, 2)
    response = signed_in.get("/gallery/?state=success", HTTP_HX_TARGET="gallery-results", **HTMX)
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="gallery-results">')
    assert len(task_ids(content)) == 2
    assert "Credits charged by member" in content


def test_a_bad_cursor_or_filter_falls_back_quietly(signed_in, alice):
    make_generations(alice, 2)
    assert len(task_ids(signed_in.get("/gallery/?after=bogus").content.decode())) == 2
    response = signed_in.get("/gallery/?date_from=yesterday&author=999999")
    assert response.status_code == 200
    assert len(task_ids(response.content.decode())) == 2


def test_prompt_search_keeps_to_the_team_and_the_other_filters(signed_in, alice, bob, carol):
    (foxes,) = make_generations(alice, 1, input={"prompt": "A Red Fox in the snow"})
    (bobs,) = make_generations(bob, 1, input={"prompt": "two red foxes at play"})
    (failed,) = make_generations(
        alice, 1, input={"prompt": "a red fox, failed"}, state=Generation.FAIL, video=""
    )
    make_generations(alice, 1, input={"prompt": "a grey wolf"})
    make_generations(carol, 1, input={"prompt": "carol's red fox"})

    def shown(query: str) -> set[str]:
        return set(task_ids(signed_in.get(f"/gallery/?{query}").content.decode()))

    assert shown("q=RED+FOX") == {foxes.task_id, bobs.task_id, failed.task_id}
    assert shown("q=red+fox&state=fail") == {failed.task_id}
    assert shown(f"q=red+fox&author={bob.pk}") == {bobs.task_id}
    assert shown("q=ox") == {foxes.task_id, bobs.task_id, failed.task_id}  # 2 characters
    # The totals come from the usage rollup, which knows no prompts: a search
    # narrows the cards, not the team's totals (the note under them says so).
    content = signed_in.get("/gallery/?q=red+fox").content.decode()
    alice_row = content.split('<tr data-member="alice">')[1].split("</tr>")[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", alice_row)[:2] == ["3", "1"]
    assert '<tr data-member="carol">' not in content


def test_prompt_search_pages_through_every_match_once(signed_in, alice, bob):
    matches = make_generations(alice, PAGE_SIZE + 3, input={"prompt": "A paper boat"})
    matches += make_generations(bob, 10, input={"prompt": "paper boats, again"})
    make_generations(alice, 30, input={"prompt": "a lighthouse"})
    same = timezone.now() - timedelta(minutes=5)
    Generation.objects.filter(pk__in=[row.pk for row in matches[20:30]]).update(created_at=same)
    expected = list(
        Generation.objects.filter(pk__in=[row.pk for row in matches])
        .order_by("-created_at", "-id")
        .values_list("task_id", flat=True)
    )

    seen, url = [], "/gallery/?q=Paper+Boat"
    while url:
        content = signed_in.get(url).content.decode()
        seen += task_ids(content)
        found = re.search(r'<li id="load-more".*?href="\?([^"]+)"', content, re.S)
        url = f"/gallery/?{found.group(1).replace('&amp;', '&')}" if found else None
    assert seen == expected
