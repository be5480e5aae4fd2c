"""The team gallery in Chromium, on a desktop (1280 px) and on a phone (390 × 844).

Cards of a row keep one height with a portrait clip among landscape ones;
the prompt search narrows them as one types; two ticked cards download as
one ZIP; a star filters the gallery down to favourites; a deleted card
leaves the gallery, its charge staying in the totals; the page never
scrolls sideways; dark mode keeps dark cards.
Screenshots go to test-output/browser/gallery-*.png.
"""

import io
import re
import secrets
import zipfile
from decimal import Decimal

import av
import numpy
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from playground import usage
from playground.models import Generation
from tests.browser.layout import no_sideways_scroll
from tests.browser.test_walkthrough import log_in

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


def mp4(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A real H.264 clip of a dozen frames."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        picture = numpy.full((height, width, 3), colour, dtype=numpy.uint8)
        for _ in range(12):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def jpeg(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


def clip(owner, prompt: str, width: int, height: int, colour) -> Generation:
    """A finished generation whose video and poster are real files in storage."""
    folder = f"generations/{secrets.token_urlsafe(12)}"
    row = Generation.objects.create(
        owner=owner,
        team_id=owner.profile.team_id,
        model_id="kling/v2-1",
        input={"prompt": prompt, "duration": 1},
        state=Generation.SUCCESS,
        quoted_credits=Decimal("55.00"),
        charged_credits=Decimal("55.00"),
        width=width,
        height=height,
        completed_at=timezone.now(),
    )
    row.video = default_storage.save(
        f"{folder}/{row.task_id}.mp4", ContentFile(mp4(width, height, colour))
    )
    row.poster = default_storage.save(
        f"{folder}/{row.task_id}.jpg", ContentFile(jpeg(width, height, colour))
    )
    row.save()
    usage.record(row, row.charged_credits)  # as the lifecycle counts it when it settles
    return row


def rows_of_cards(page: Page) -> list[list[dict]]:
    """The cards' and their poster areas' boxes, grouped by row on screen."""
    boxes = page.evaluate(
        """() => Array.from(document.querySelectorAll(".gallery-card")).map((card) => {
          const box = card.getBoundingClientRect();
          const media = card.querySelector(".media").getBoundingClientRect();
          return {top: Math.round(box.top), height: box.height,
                  mediaWidth: media.width, mediaHeight: media.height};
        })"""
    )
    rows: dict[int, list[dict]] = {}
    for box in boxes:
        rows.setdefault(box["top"], []).append(box)
    return list(rows.values())


@pytest.mark.parametrize("size", SIZES)
def test_the_gallery_as_a_member_uses_it(page: Page, screenshot, tmp_path, size, alice, bob):
    width, height = SIZES[size]
    landscape = [clip(bob, f"a wide harbour at dawn {n}", 320, 180, (40, 90, 200)) for n in (1, 2)]
    portrait = clip(alice, "a tall lighthouse, portrait", 180, 320, (200, 120, 40))
    wide = clip(alice, "a wide field of wheat under a long summer sky", 320, 180, (60, 160, 80))
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, "alice", "alice-password")
    page.goto("/gallery/")
    cards = page.locator(".gallery-card")
    expect(cards).to_have_count(4)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.gallery-card video'))"
        ".every((video) => video.poster)"
    )
    screenshot(page, f"gallery-{size}")

    # One poster height for every card, the portrait clip letterboxed inside it.
    for row in rows_of_cards(page):
        assert max(b["height"] for b in row) - min(b["height"] for b in row) < 1, row
        for box in row:
            assert abs(box["mediaHeight"] - box["mediaWidth"] * 9 / 16) < 1.5, box
    if size == "desktop":
        # The portrait card shares its row with landscape ones.
        first_row = rows_of_cards(page)[0]
        assert len(first_row) == 4
    no_sideways_scroll(page)
    # The totals scroll inside their card, which stays within the screen.
    totals = page.locator(".totals .table-scroll")
    expect(totals.locator('tr[data-member="bob"] .charged')).to_have_text("110.00")
    inside = page.evaluate(
        """() => { const box = document.querySelector(".totals .table-scroll");
          return {scrolls: box.scrollWidth > box.clientWidth,
                  right: box.closest(".card").getBoundingClientRect().right}; }"""
    )
    assert inside["right"] <= width
    assert inside["scrolls"] == (size == "phone")

    # Searching the prompts narrows the cards as one types, whatever the case.
    page.get_by_label("Search prompts").press_sequentially("HARBOUR AT")
    expect(cards).to_have_count(2)
    expect(page).to_have_url(re.compile(r"q=HARBOUR(%20|\+)AT"))
    expect(totals.locator("tbody tr")).to_have_count(2)  # the team's, as before: not by prompt
    no_sideways_scroll(page)
    screenshot(page, f"gallery-{size}-search")
    page.goto("/gallery/")
    expect(cards).to_have_count(4)

    # Tick two cards and download them as one ZIP.
    selection = page.locator("#gallery-selection")
    download_button = selection.get_by_role("button", name="Download ZIP")
    expect(download_button).to_be_disabled()
    for row in (portrait, landscape[0]):
        page.get_by_role("checkbox", name=f"Select Kling 2.1 generation {row.task_id}").check()
    expect(page.locator("#selection-count")).to_have_text("2 selected")
    screenshot(page, f"gallery-{size}-selected")
    if size == "phone":
        # Scrolled down the cards, the bar with the actions stays in view.
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function(
            "() => Math.abs(document.getElementById('gallery-selection')"
            ".getBoundingClientRect().top) < 1"
        )
        expect(download_button).to_be_in_viewport()
    with page.expect_download() as caught:
        download_button.click()
    download = caught.value
    assert re.fullmatch(r"reelgate-videos-\d{8}-\d{6}\.zip", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert sorted(archive.namelist()) == sorted(
            [f"{portrait.task_id}.mp4", f"{landscape[0].task_id}.mp4"]
        )
        with default_storage.open(portrait.video.name, "rb") as stored:
            assert archive.read(f"{portrait.task_id}.mp4") == stored.read()

    # Star one; "Favourites only" narrows the gallery to it.
    star = cards.filter(has=page.locator(f'[value="{wide.task_id}"]')).get_by_role(
        "button", name="Favourite"
    )
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Favourites only").check()
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-task-id", wide.task_id)
    expect(page).to_have_url(re.compile(r"favourites=on"))
    no_sideways_scroll(page)
    screenshot(page, f"gallery-{size}-favourites")
    page.get_by_label("Favourites only").uncheck()
    expect(cards).to_have_count(4)

    # Delete one: it leaves the gallery, its charge stays in the totals.
    page.get_by_role("checkbox", name=f"Select Kling 2.1 generation {landscape[1].task_id}").check()
    page.once("dialog", lambda dialog: dialog.accept())
    selection.get_by_role("button", name="Delete").click()
    expect(page.locator(".message.success")).to_contain_text("Deleted 1 generation.")
    expect(cards).to_have_count(3)
    expect(page.locator(f'[data-task-id="{landscape[1].task_id}"]')).to_have_count(0)
    expect(totals.locator('tr[data-member="bob"] .charged')).to_have_text("110.00")
    landscape[1].refresh_from_db()
    assert landscape[1].deleted_at is not None
    no_sideways_scroll(page)

    # Dark mode: dark cards and chips still readable over the posters.
    page.emulate_media(color_scheme="dark")
    card_colour = page.evaluate(
        "() => getComputedStyle(document.querySelector('.gallery-card')).backgroundColor"
    )
    assert card_colour == "rgb(30, 32, 38)"
    screenshot(page, f"gallery-{size}-dark")
