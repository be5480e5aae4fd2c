"""What a member does with gallery cards: a ZIP of several videos, deleting
several (their charges kept), and starring favourites to filter by."""

import html
import io
import re
import secrets
import zipfile
from decimal import Decimal

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from moto.server import ThreadedMotoServer

from accounts import ledger
from accounts.models import LedgerEntry
from playground import usage
from playground.models import Favourite, Generation
from playground.pages.gallery import PAGE_SIZE, SELECTION_MAX

HTMX = {"HTTP_HX_REQUEST": "true"}


def generation(owner, state=Generation.SUCCESS, *, files=True, prompt="a lighthouse", **fields):
    """A generation as the worker leaves it; when successful and `files`, its
    video and poster really are in storage (distinct bytes per generation)."""
    row = Generation.objects.create(
        owner=owner,
        team_id=owner.profile.team_id,
        model_id="kling/v2-1",
        input={"prompt": prompt, "duration": 5},
        state=state,
        quoted_credits=Decimal("55.00"),
        completed_at=timezone.now() if state in Generation.FINISHED else None,
        **fields,
    )
    if state == Generation.SUCCESS:
        ledger.grant(owner.profile.team.wallet, Decimal("55.00"), note="for this generation")
        ledger.hold(owner.profile.team.wallet, Decimal("55.00"), row.hold_reference)
        ledger.capture(row.hold_reference)
        row.charged_credits = Decimal("55.00")
        if files:
            folder = f"generations/{secrets.token_urlsafe(12)}"
            row.video = default_storage.save(
                f"{folder}/{row.task_id}.mp4", ContentFile(b"mp4 of " + row.task_id.encode())
            )
            row.poster = default_storage.save(
                f"{folder}/{row.task_id}.jpg", ContentFile(b"jpg of " + row.task_id.encode())
            )
        row.save()
    if state in Generation.FINISHED:
        usage.record(row, row.charged_credits)  # as the lifecycle counts it when it settles
    return row


def messages_of(client, response) -> list[str]:
    """The messages the redirected-to page shows (which consumes them)."""
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    found = re.findall(r'<li class="message [^"]*">(.*?)</li>', page, re.S)
    return [html.unescape(text) for text in found]


def shown(client, query: str = "") -> list[str]:
    content = client.get(f"/gallery/?{query}").content.decode()
    return re.findall(r'<li class="card gallery-card[^"]*" data-task-id="([^"]+)"', content)


def unzip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


# -- ZIP -----------------------------------------------------------------------


def test_it_zips_the_selected_videos_from_storage_and_notes_the_rest(client, alice, bob):
    first, second = generation(alice), generation(bob)
    running = generation(alice, Generation.GENERATING)
    failed = generation(alice, Generation.FAIL)
    generation(alice)  # not selected
    client.force_login(bob)  # a teammate may take the team's videos

    response = client.post(
        "/gallery/download/",
        {"task": [first.task_id, second.task_id, running.task_id, failed.task_id]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert re.fullmatch(
        r'attachment; filename="reelgate-videos-\d{8}-\d{6}\.zip"',
        response["Content-Disposition"],
    )
    archive = unzip(response)
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == sorted(
        [f"{first.task_id}.mp4", f"{second.task_id}.mp4", "SKIPPED.txt"]
    )
    for row in (first, second):
        with default_storage.open(row.video.name, "rb") as stored:
            assert archive.read(f"{row.task_id}.mp4") == stored.read()
    note = archive.read("SKIPPED.txt").decode()
    assert f"{running.task_id}: not finished yet (generating)" in note
    assert f"{failed.task_id}: failed, so it has no video" in note


@pytest.fixture
def object_storage(settings):
    """Media on an S3 server on 127.0.0.1 (moto's), as MEDIA_STORAGE=s3 configures it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {
        "bucket_name": f"reelgate-media-{secrets.token_hex(3)}",
        "access_key": "reelgate",
        "secret_key": "test-secret",
        "endpoint_url": f"http://{host}:{port}",
        "region_name": "us-east-1",
        "location": "media",
        "file_overwrite": False,
    }
    boto3.client(
        "s3",
        endpoint_url=options["endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="reelgate",
        aws_secret_access_key="test-secret",
    ).create_bucket(Bucket=options["bucket_name"])
    # Django resets default_storage when STORAGES changes, and again afterwards.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    yield
    server.stop()


def test_the_zip_reads_the_videos_from_object_storage(client, alice, object_storage):
    kept, lost = generation(alice), generation(alice)
    assert type(default_storage._wrapped).__name__ == "S3Storage"
    default_storage.delete(lost.video.name)
    client.force_login(alice)
    archive = unzip(client.post("/gallery/download/", {"task": [kept.task_id, lost.task_id]}))
    assert archive.read(f"{kept.task_id}.mp4") == b"mp4 of " + kept.task_id.encode()
    assert f"{lost.task_id}: its video file is missing from storage" in archive.read(
        "SKIPPED.txt"
    ).decode("utf-8")


def test_a_video_missing_from_storage_is_noted_not_fatal(client, alice):
    kept, lost = generation(alice), generation(alice)
    default_storage.delete(lost.video.name)
    client.force_login(alice)
    archive = unzip(client.post("/gallery/download/", {"task": [kept.task_id, lost.task_id]}))
    assert sorted(archive.namelist()) == sorted([f"{kept.task_id}.mp4", "SKIPPED.txt"])
    assert f"{lost.task_id}: its video file is missing from storage" in archive.read(
        "SKIPPED.txt"
    ).decode("utf-8")


def test_an_outsider_gets_no_zip_of_another_teams_videos(client, alice, carol):
    alices = generation(alice)
    client.force_login(carol)
    response = client.post("/gallery/download/", {"task": [alices.task_id]})
    assert response.status_code == 302 and response["Location"] == "/gallery/"
    assert messages_of(client, response) == [
        "None of the selected generations is in your team's gallery."
    ]


def test_a_zip_leaves_out_ids_of_another_team_with_a_note(client, alice, carol):
    alices, carols = generation(alice), generation(carol)
    client.force_login(carol)
    archive = unzip(client.post("/gallery/download/", {"task": [carols.task_id, alices.task_id]}))
    assert f"{alices.task_id}.mp4" not in archive.namelist()
    assert f"{alices.task_id}: not found" in archive.read("SKIPPED.txt").decode()


def test_a_zip_is_refused_clearly_over_the_cap_or_with_nothing_to_zip(client, alice):
    running = generation(alice, Generation.QUEUING)
    client.force_login(alice)
    query = {"query": "state=queuing&after=abc"}

    too_many = [f"gen_{n}" for n in range(SELECTION_MAX + 1)]
    response = client.post("/gallery/download/", {"task": too_many, **query})
    assert response["Location"] == "/gallery/?state=queuing&after=abc"  # back where it was
    assert messages_of(client, response) == [
        f"You selected {SELECTION_MAX + 1} generations; download at most {SELECTION_MAX} at a time."
    ]
    response = client.post("/gallery/download/", query)
    assert messages_of(client, response) == ["Select the generations to download first."]
    response = client.post("/gallery/download/", {"task": [running.task_id]})
    assert messages_of(client, response) == [
        "None of the selected generations has a finished video yet."
    ]


def test_the_actions_take_only_a_post_with_a_csrf_token(alice):
    kept = generation(alice)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/gallery/download/").status_code == 405
    for url in (
        "/gallery/download/",
        "/gallery/delete/",
        f"/generations/{kept.task_id}/favourite/",
    ):
        assert browser.post(url, {"task": [kept.task_id], "starred": "1"}).status_code == 403
    kept.refresh_from_db()
    assert kept.deleted_at is None and not Favourite.objects.exists()


# -- delete --------------------------------------------------------------------


def test_deleting_removes_the_files_and_the_cards_but_keeps_the_charges(client, alice, bob):
    doomed = [generation(alice), generation(alice, Generation.FAIL)]
    kept = generation(alice)
    running = generation(alice, Generation.GENERATING)
    files = [doomed[0].video.name, doomed[0].poster.name]
    entries = list(LedgerEntry.objects.order_by("pk").values_list("pk", "kind", "amount"))
    client.force_login(bob)

    response = client.post(
        "/gallery/delete/",
        {"task": [row.task_id for row in doomed] + [running.task_id], "query": "author="},
    )

    assert response["Location"] == "/gallery/?author="
    assert messages_of(client, response) == [
        "Deleted 2 generations. What they were charged stays on record in the ledger "
        "and the totals.",
        "1 generation not deleted: only finished generations can be deleted (cancel an "
        "unfinished one first).",
    ]
    assert not any(default_storage.exists(name) for name in files)
    for row in doomed:
        row.refresh_from_db()
        assert row.deleted_at is not None and not row.video and not row.poster
        assert row.events.filter(note__startswith="deleted").count() == 1
    running.refresh_from_db()
    assert running.deleted_at is None and running.state == Generation.GENERATING
    assert list(LedgerEntry.objects.order_by("pk").values_list("pk", "kind", "amount")) == entries

    assert shown(client) == [running.task_id, kept.task_id]
    content = client.get("/gallery/").content.decode()
    alice_row = content.split('<tr data-member="alice">')[1].split("</tr>")[0]
    # Three finished, one failed, two charged 55.00 each: the deleted one still counts.
    assert re.findall(r"<td[^>]*>([^<]*)</td>", alice_row) == ["3", "1", "110.00"]
    # Its own page says what happened instead of offering a file that is gone.
    page = client.get(f"/generations/{doomed[0].task_id}/")
    assert page.status_code == 200
    assert "its files were removed" in page.content.decode()
    assert "Download MP4" not in page.content.decode()


def test_an_outsider_cannot_delete_another_teams_generation(client, alice, carol):
    alices = generation(alice)
    client.force_login(carol)
    response = client.post("/gallery/delete/", {"task": [alices.task_id]})
    assert messages_of(client, response) == [
        "None of the selected generations is in your team's gallery."
    ]
    alices.refresh_from_db()
    assert alices.deleted_at is None
    assert default_storage.exists(alices.video.name)


def test_deleting_twice_changes_nothing_more(client, alice):
    row = generation(alice)
    client.force_login(alice)
    first = client.post("/gallery/delete/", {"task": [row.task_id]})
    assert messages_of(client, first) == [
        "Deleted 1 generation. What it was charged stays on record in the ledger and the totals."
    ]
    response = client.post("/gallery/delete/", {"task": [row.task_id]})
    assert messages_of(client, response) == [
        "None of the selected generations is in your team's gallery."
    ]
    assert row.events.filter(note__startswith="deleted").count() == 1


# -- favourites ----------------------------------------------------------------


def test_a_star_is_the_members_own_and_filters_their_gallery(client, alice, bob):
    starred, other = generation(alice), generation(bob)
    client.force_login(alice)

    response = client.post(
        f"/generations/{starred.task_id}/favourite/", {"starred": "1", "query": "q=x"}, **HTMX
    )
    content = response.content.decode()
    assert content.lstrip().startswith('<form class="star"')
    assert 'aria-pressed="true"' in content and 'name="starred" value="0"' in content
    assert 'name="query" value="q=x"' in content
    # Asked twice (a double click, a retry): still one star.
    client.post(f"/generations/{starred.task_id}/favourite/", {"starred": "1"}, **HTMX)
    assert Favourite.objects.filter(user=alice).count() == 1

    assert shown(client, "favourites=on") == [starred.task_id]
    assert set(shown(client)) == {starred.task_id, other.task_id}
    card = client.get("/gallery/").content.decode().split(f'data-task-id="{starred.task_id}"')[1]
    assert 'aria-pressed="true"' in card.split("</li>")[0]
    client.force_login(bob)  # bob has starred nothing
    assert shown(client, "favourites=on") == []

    client.force_login(alice)
    response = client.post(f"/generations/{starred.task_id}/favourite/", {"starred": "0"})
    assert response["Location"] == "/gallery/"  # without htmx: back to the gallery
    assert shown(client, "favourites=on") == []


def test_the_favourites_filter_joins_the_others_and_pages_without_gaps(client, alice):
    rows = [generation(alice, prompt=f"a fox {n}") for n in range(PAGE_SIZE + 6)]
    rows += [generation(alice, Generation.FAIL, prompt="a fox failed")]
    starred = [row for n, row in enumerate(rows) if n % 4 != 0]
    Favourite.objects.bulk_create(Favourite(user=alice, generation=row) for row in starred)
    client.force_login(alice)

    expected = [row.task_id for row in sorted(starred, key=lambda r: r.pk, reverse=True)]
    seen, url = [], "/gallery/?favourites=on"
    while url:
        content = client.get(url).content.decode()
        seen += re.findall(r'<li class="card gallery-card[^"]*" data-task-id="([^"]+)"', content)
        more = re.search(r'<li id="load-more".*?href="\?([^"]+)"', content, re.S)
        url = f"/gallery/?{more.group(1).replace('&amp;', '&')}" if more else None
    assert seen == expected
    # With the other filters: the failed one (starred) and the successful starred ones.
    assert shown(client, "favourites=on&state=fail&q=fox") == [rows[-1].task_id]
    assert shown(client, "favourites=on&state=success") == expected[1:]


def test_an_outsider_cannot_star_another_teams_generation(client, alice, carol):
    alices = generation(alice)
    client.force_login(carol)
    response = client.post(f"/generations/{alices.task_id}/favourite/", {"starred": "1"})
    assert response.status_code == 404
    assert not Favourite.objects.exists()


def test_a_deleted_generation_cannot_be_starred(client, alice):
    row = generation(alice)
    client.force_login(alice)
    client.post("/gallery/delete/", {"task": [row.task_id]})
    response = client.post(f"/generations/{row.task_id}/favourite/", {"starred": "1"})
    assert response.status_code == 404
