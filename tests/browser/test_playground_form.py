"""The playground form in Chromium, at a desktop's 1280 px and a phone's 390 px,
light and dark: it speaks only once the person did something, image fields are
rows (upload, drop, paste, move, remove), Ctrl/Cmd+Enter generates, and on a
phone the price sits above Generate and the result right under it.

Every test here also fails on a console error or a CSP violation
(tests/browser/conftest.py).
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from playground.models import Generation
from tests.browser.layout import no_sideways_scroll
from tests.browser.test_walkthrough import log_in, png_bytes

PROMPT = "A paper boat drifting down a rainy street at night, neon reflections"
UPLOADED = re.compile(r"^https?://[^/]+/media/uploads/[^/]+/[^/]+\.png$")


def open_model(page: Page, model: str, width: int, scheme: str = "light") -> None:
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    page.emulate_media(color_scheme=scheme)
    log_in(page, "alice", "alice-password")
    page.goto(f"/models/{model}/")


def top(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["y"]


def bottom(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["y"] + box["height"]


def png_file(name: str) -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": png_bytes()}


def file_transfer(page: Page, name: str):
    """A DataTransfer holding one PNG file, as a drop or a paste carries it."""
    return page.evaluate_handle(
        """([name, bytes]) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([new Uint8Array(bytes)], name, { type: "image/png" }));
          return transfer;
        }""",
        [name, list(png_bytes())],
    )


@pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (390, "light"), (390, "dark"), (1280, "dark")]
)
def test_it_speaks_only_after_the_person_did_something_and_generates_on_ctrl_enter(
    page: Page, screenshot, alice, width, scheme
):
    open_model(page, "kling/v2-1", width, scheme)
    prompt = page.get_by_label("Prompt")
    price = page.locator("#price")
    generate = page.get_by_role("button", name="Generate")

    # A choice made elsewhere: the required prompt, untouched, shows no error,
    # and the price card names what is still needed instead of "highlighted".
    page.get_by_label("Resolution").select_option("480p")
    expect(price).to_contain_text("To generate, fill in Prompt.")
    expect(price.locator(".amount")).to_have_text("55.00")
    expect(page.locator("#errors-prompt")).to_be_empty()
    expect(prompt).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#snippet-curl")).to_contain_text(
        '"prompt": "A short description of the video"'
    )
    # Duration reads as a list of its values, as on the other models.
    expect(page.get_by_label("Duration").locator("option")).to_have_text(["5 s", "10 s"])
    screenshot(page, f"form-untouched-{width}-{scheme}")

    # Pasted text validates: no keyup, no change event, only `input`.
    page.evaluate("text => navigator.clipboard.writeText(text)", PROMPT)
    prompt.focus()
    page.keyboard.press("ControlOrMeta+V")
    expect(prompt).to_have_value(PROMPT)
    expect(page.locator("#snippet-curl")).to_contain_text(PROMPT)
    expect(price).not_to_contain_text("fill in")
    expect(price).not_to_contain_text("highlighted")

    # On a phone the price sits above Generate, the API call below it.
    if width < 500:
        assert bottom(price) <= top(generate)
        assert bottom(generate) <= top(page.locator("#request"))
    no_sideways_scroll(page)

    # Ctrl/Cmd+Enter from the prompt generates; the result comes right under
    # the form, above the API call on a phone.
    page.keyboard.press("ControlOrMeta+Enter")
    panel = page.locator("#result article.generation")
    expect(panel).to_contain_text("55.00 credits held")
    assert top(panel) >= bottom(generate)
    if width < 500:
        assert bottom(panel) <= top(page.locator("#request"))
    expect(page.locator("#header-balance")).to_have_text("445.00 credits")
    generation = Generation.objects.get()
    assert generation.input["prompt"] == PROMPT
    no_sideways_scroll(page)
    screenshot(page, f"form-generated-{width}-{scheme}")


@pytest.mark.parametrize("width", [1280, 390])
def test_image_rows_upload_drop_paste_move_and_remove(page: Page, screenshot, alice, width):
    open_model(page, "kling-2-1", width)
    page.get_by_label("Mode").select_option("pro-image-to-video")
    page.locator("#id_prompt").fill("The flower bud slowly opens into full bloom")
    start_row = page.locator("[data-image-row]").nth(0)
    end_row = page.locator("[data-image-row]").nth(1)
    start = page.get_by_label("Start frame")
    end = page.get_by_label("End frame")
    add_end = page.get_by_role("button", name="Add end frame")

    # Upload through the row's button: the URL and a thumbnail.
    start_row.locator("input[data-image-file]").set_input_files(png_file("start.png"))
    expect(start).to_have_value(UPLOADED)
    expect(start_row.locator("[data-thumb] img")).to_be_visible()
    expect(start_row.get_by_role("button", name="Move up")).to_be_disabled()

    # A second row, then a file dropped onto it.
    expect(end_row).to_be_hidden()
    add_end.click()
    expect(end_row).to_be_visible()
    expect(add_end).to_be_disabled()  # the field holds at most two images
    end_row.dispatch_event("drop", {"dataTransfer": file_transfer(page, "end.png")})
    expect(end).to_have_value(re.compile(r"/end\.png$"))
    expect(end_row.locator("[data-thumb] img")).to_be_visible()
    start_url, end_url = start.input_value(), end.input_value()
    expect(page.locator("#snippet-curl")).to_contain_text(end_url)
    screenshot(page, f"form-images-{width}")

    # Order matters (start frame, end frame): move the end frame up.
    end_row.get_by_role("button", name="Move up").click()
    expect(start).to_have_value(end_url)
    expect(end).to_have_value(start_url)
    expect(page.locator("#price .amount")).to_have_text("50.00")

    # Remove the start frame: the other image becomes the start frame, and
    # the end frame can be added again.
    start_row.get_by_role("button", name="Remove").click()
    expect(start).to_have_value(start_url)
    expect(end_row).to_be_hidden()
    expect(add_end).to_be_enabled()

    # An image copied to the clipboard, pasted into the row.
    add_end.click()
    page.evaluate(
        """async (bytes) => {
          const image = new Blob([new Uint8Array(bytes)], { type: "image/png" });
          await navigator.clipboard.write([new ClipboardItem({ "image/png": image })]);
        }""",
        list(png_bytes()),
    )
    end.focus()
    page.keyboard.press("ControlOrMeta+V")
    expect(end).to_have_value(UPLOADED)
    pasted_url = end.input_value()
    no_sideways_scroll(page)
    screenshot(page, f"form-images-reordered-{width}")

    page.keyboard.press("ControlOrMeta+Enter")
    expect(page.locator("#result article.generation")).to_be_visible()
    assert Generation.objects.get().input["image_urls"] == [start_url, pasted_url]


def test_a_url_typed_into_a_row_shows_its_thumbnail_and_an_empty_row_its_frame(page: Page, alice):
    open_model(page, "kling-v3", 1280)
    row = page.locator(".field-image_url [data-image-row]")
    expect(row.locator("[data-thumb] img")).to_have_count(0)
    page.get_by_label("Start image").fill("https://example.com/media/start.png")
    expect(row.locator("[data-thumb] img")).to_be_visible()
    expect(page.locator("#snippet-curl")).to_contain_text('"image": "https://example.com/media/')
    row.get_by_role("button", name="Remove").click()
    expect(page.get_by_label("Start image")).to_have_value("")
    expect(row.locator("[data-thumb] img")).to_have_count(0)


def test_generate_waits_for_credits_with_a_link_to_them(page: Page, screenshot, bob):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "bob", "bob-password")  # bob has no credits
    page.goto("/models/kling/v2-1/")
    generate = page.get_by_role("button", name="Generate")
    expect(generate).to_be_disabled()
    expect(page.locator("#short-note")).to_contain_text("you have 0.00 available")
    page.get_by_label("Prompt").fill(PROMPT)
    expect(page.locator("#snippet-curl")).to_contain_text(PROMPT)
    expect(generate).to_be_disabled()  # still, after the live check
    page.keyboard.press("ControlOrMeta+Enter")  # nothing to submit with
    expect(page.locator("#result")).to_be_empty()
    assert not Generation.objects.exists()
    no_sideways_scroll(page)
    screenshot(page, "form-no-credits-390")
    page.get_by_role("link", name="Get credits").click()
    expect(page).to_have_url(re.compile(r"/account/$"))


def test_the_header_balance_follows_a_generation_until_it_settles(page: Page, worker, alice):
    log_in(page, "alice", "alice-password")
    page.goto("/models/kling/v2-1/")
    balance = page.locator("#header-balance")
    expect(balance).to_have_text("500.00 credits")
    # The worker's moderation refuses this prompt: the generation fails and
    # the 55 credits it held come back.
    page.get_by_label("Prompt").fill("A forbiddenword on a rainy street")
    page.get_by_role("button", name="Generate").click()
    expect(balance).to_have_text("445.00 credits")
    expect(page.locator("#result")).to_contain_text("CONTENT_VIOLATION", timeout=60_000)
    expect(balance).to_have_text("500.00 credits")
