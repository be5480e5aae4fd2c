"""A new user's first session, in headless Chromium against the live server.

Log in, find a model, watch the price follow the options, see an error,
generate a clip with the real worker, watch it progress and play it, find it
in the gallery with its cost, remix it; then create and revoke an API key.
"""

import io
import re
import secrets

from PIL import Image
from playwright.sync_api import Page, expect

from accounts import apikeys
from accounts.teams import create_member
from playground.models import Generation

PROMPT = "A paper boat drifting down a rainy street at night, neon reflections"


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Models")).to_be_visible()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (40, 90, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_it_walks_from_login_to_a_remix(page: Page, screenshot, worker, alice):
    page.goto("/")
    screenshot(page, "01-login")
    log_in(page, "alice", "alice-password")
    screenshot(page, "02-models")

    # The search filters the cards as one types.
    search = page.get_by_label("Search models")
    search.fill("motion")
    cards = page.locator("#model-cards")
    expect(cards).to_contain_text("Kling Motion Control")
    expect(cards).not_to_contain_text("Veo 3.1")
    search.fill("")
    expect(cards).to_contain_text("Veo 3.1")

    # A model priced per second: the quote follows duration and mode.
    page.goto("/models/kling-v3/")
    page.get_by_label("Prompt").fill(PROMPT)
    amount = page.locator("#price .amount")
    expect(amount).to_have_text("31.65")
    page.get_by_label("Duration").fill("10")
    page.get_by_label("Duration").press("Tab")
    expect(amount).to_have_text("63.30")
    page.get_by_label("Mode").select_option("pro")
    expect(amount).to_have_text("85.30")
    expect(page.locator("#price .breakdown")).to_have_text(
        "pro · 10 s × 8.53 credits/s = 85.30 credits"
    )
    # An uploaded start image lands in its field, with a thumbnail.
    image_row = page.locator(".field-image_url [data-image-row]")
    image_row.locator("input[data-image-file]").set_input_files(
        {"name": "start.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    expect(page.get_by_label("Start image")).to_have_value(
        re.compile(r"/media/uploads/.+/start\.png$")
    )
    expect(image_row.locator("[data-thumb] img")).to_be_visible()
    screenshot(page, "03-playground-kling-v3")

    # Kling 2.1 from the catalog.
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="Kling 2.1", exact=True).click()
    expect(page).to_have_url(re.compile(r"/models/kling/v2-1/$"))
    # A click's navigation may hand over the page before its scripts ran.
    page.wait_for_load_state()
    expect(page.locator("#price .amount")).to_have_text("55.00")

    # The prompt is not scolded before it is reached; emptied, it is an
    # error in place, and typing one clears it.
    page.get_by_label("Resolution").select_option("480p")
    expect(page.locator("#price")).to_contain_text("To generate, fill in Prompt.")
    expect(page.locator("#errors-prompt")).to_be_empty()
    prompt = page.get_by_label("Prompt")
    prompt.press_sequentially("A paper")
    expect(page.locator('[data-count-for="id_prompt"] .count')).to_have_text("7")
    prompt.fill("")
    expect(page.locator("#errors-prompt")).to_have_text("This field is required.")
    expect(page.locator("#price")).to_contain_text("Fix the highlighted fields to generate.")
    prompt.fill(PROMPT)
    prompt.press("End")
    expect(page.locator("#errors-prompt")).to_be_empty()
    expect(page.locator("#snippet-curl")).to_contain_text('"resolution": "480p"')
    expect(page.locator("#snippet-curl")).to_contain_text(
        f"{page.url.split('/models')[0]}/api/v1/jobs/createTask"
    )
    page.get_by_label("Duration").select_option("5")
    screenshot(page, "04-playground-kling-v2-1")

    # Generate: live progress, then the video plays in place.
    page.get_by_role("button", name="Generate").click()
    panel = page.locator("#result article.generation")
    expect(panel).to_be_visible()
    expect(panel.locator("progress")).to_be_visible()
    expect(panel).to_contain_text("55.00 credits held")
    screenshot(page, "05-generating")
    video = page.locator("#result video.result-video")
    expect(video).to_be_visible(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('#result video.result-video').readyState >= 1"
    )
    duration = page.evaluate("document.querySelector('#result video.result-video').duration")
    assert abs(duration - 5) < 0.2
    page.evaluate(
        "() => { const v = document.querySelector('#result video.result-video');"
        " v.muted = true; return v.play(); }"
    )
    page.wait_for_function(
        "() => document.querySelector('#result video.result-video').currentTime > 0.2"
    )
    expect(panel).to_contain_text("55.00 credits charged")
    expect(panel.get_by_role("link", name="Download MP4")).to_be_visible()
    screenshot(page, "06-finished")
    task_id = panel.get_attribute("data-task-id")
    generation = Generation.objects.get(task_id=task_id)
    assert (generation.source, generation.state) == ("playground", "success")

    # The gallery shows it with its cost; hovering plays it.
    nav.get_by_role("link", name="Gallery").click()
    card = page.locator(f'.gallery-card[data-task-id="{task_id}"]')
    expect(card).to_contain_text("55.00 credits")
    expect(card).to_contain_text("alice")
    expect(page.locator('tr[data-member="alice"] .charged')).to_have_text("55.00")
    card.hover()
    page.wait_for_function(
        f"() => !document.querySelector('[data-task-id=\"{task_id}\"] video').paused"
    )
    screenshot(page, "07-gallery")

    # Its page has the history; Remix opens the form pre-filled.
    card.locator("a.media").click()
    expect(page.locator(".events")).to_contain_text("success")
    screenshot(page, "08-generation")
    page.get_by_role("link", name="Remix").click()
    expect(page).to_have_url(re.compile(rf"/models/kling/v2-1/\?from={task_id}$"))
    expect(page.get_by_label("Prompt")).to_have_value(PROMPT)
    expect(page.get_by_label("Resolution")).to_have_value("480p")
    expect(page.locator(".remix-banner")).to_contain_text(task_id)
    screenshot(page, "09-remix")
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    screenshot(page, "09-remix-phone-dark")


def test_it_creates_and_revokes_an_api_key(page: Page, screenshot, alice):
    log_in(page, "alice", "alice-password")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    expect(page.locator("#available")).to_have_text("500.00")
    page.get_by_label("Key name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    secret_box = page.locator("#new-key-secret")
    expect(secret_box).to_have_text(re.compile(r"^rg_"))
    secret = secret_box.text_content()
    assert apikeys.authenticate(secret).user == alice
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "10-account-new-key")

    page.once("dialog", lambda dialog: dialog.accept())
    row = page.locator(f'tr[data-prefix="{secret[:11]}"]')
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("revoked")
    expect(secret_box).to_have_count(0)  # shown once, never again
    assert apikeys.authenticate(secret) is None
    expect(page.locator("#webhooks")).to_contain_text("No deliveries yet.")
    screenshot(page, "11-account")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "12-account-dark")


def test_it_tells_a_person_locked_out_after_failed_sign_ins_when_to_try_again(
    page: Page, screenshot, team, settings, console_errors
):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    # A name of its own: the counters outlive the test in a shared cache.
    username = f"erin-{secrets.token_hex(4)}"
    create_member(username, team, password="erin-password")

    def sign_in(password: str) -> None:
        page.goto("/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()

    for _ in range(3):
        sign_in("a guess")
        expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    sign_in("erin-password")  # right, but too late

    expect(page.get_by_text("Too many failed sign-ins")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Try again in \d+ minutes?"))).to_be_visible()
    expect(page.get_by_role("heading", name="Models")).not_to_be_visible()
    screenshot(page, "30-sign-in-locked")
    # Chromium logs the refusal's 429 on the console: the one error expected here.
    assert console_errors and all("status of 429" in error for error in console_errors)
    console_errors.clear()
