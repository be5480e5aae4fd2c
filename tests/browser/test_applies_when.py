"""Fields follow the chosen mode in Chromium: playground.js hides and disables
what does not apply, and the live check agrees, at desktop and phone widths."""

import pytest
from playwright.sync_api import Page, expect

from playground.models import Generation
from tests.browser.test_walkthrough import log_in

START = "https://example.com/media/start.png"
END = "https://example.com/media/end.png"


@pytest.mark.parametrize("width", [1280, 390])
def test_the_end_frame_shows_only_in_pro_mode(page: Page, screenshot, alice, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "alice", "alice-password")
    page.goto("/models/kling-2-1/")
    mode = page.get_by_label("Mode")
    start = page.get_by_label("Start frame")
    end = page.get_by_label("End frame")
    page.locator("#id_prompt").fill("The flower bud slowly opens into full bloom")

    add_end = page.get_by_role("button", name="Add end frame")

    mode.select_option("standard-image-to-video")
    expect(start).to_be_visible()
    expect(end).to_be_hidden()
    expect(end).to_be_disabled()
    expect(add_end).to_be_hidden()  # no end frame outside pro mode

    mode.select_option("pro-image-to-video")
    expect(end).to_be_hidden()  # offered, not added
    add_end.click()
    expect(end).to_be_visible()
    expect(end).to_be_enabled()
    expect(add_end).to_be_disabled()  # both images of the field are in
    start.fill(START)
    end.fill(END)
    end.press("Tab")
    expect(page.locator("#price .amount")).to_have_text("50.00")
    screenshot(page, f"applies-when-pro-{width}")

    # Back to one image: the end frame is kept in the page but not sent,
    # so the live check prices the input without a word about it.
    mode.select_option("master-image-to-video")
    expect(end).to_be_hidden()
    expect(page.locator("#price .amount")).to_have_text("160.00")
    expect(page.locator("#errors-image_urls")).to_be_empty()

    # Text-to-video takes no images at all.
    mode.select_option("master-text-to-video")
    expect(page.locator(".field-image_urls")).to_be_hidden()
    expect(start).to_be_disabled()
    screenshot(page, f"applies-when-text-{width}")

    mode.select_option("pro-image-to-video")
    expect(end).to_be_visible()
    expect(end).to_have_value(END)
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#result")).to_contain_text("Kling 2.1")
    assert Generation.objects.get().input["image_urls"] == [START, END]


def test_voice_shows_only_in_pro_mode_with_sound_on(page: Page, alice):
    log_in(page, "alice", "alice-password")
    page.goto("/models/kling-v2-6/")
    sound = page.locator("#id_sound")
    voice = page.locator("#id_voice")
    expect(sound).to_be_hidden()
    expect(voice).to_be_hidden()
    page.get_by_label("Mode").select_option("pro")
    expect(sound).to_be_enabled()
    expect(voice).to_be_disabled()
    page.get_by_text("Audio", exact=True).click()
    expect(voice).to_be_enabled()
    page.get_by_label("Mode").select_option("std")
    # Audio is off the form, so voice, which needs it, is too.
    expect(sound).to_be_disabled()
    expect(voice).to_be_disabled()
