"""A generation's page, the API docs and the admin in Chromium, on a desktop
(1280 px) and on a phone (390 × 844), light and dark.

The copy buttons put their text on the clipboard; a running generation's
elapsed time follows the page's polling while its API call stays open;
cancel and delete ask first; no heading touches a code block; the admin's
generation list fits 1280 px. No page scrolls sideways or logs an error.
Screenshots go to test-output/browser/{generation,docs,admin}-*.png.
"""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import LedgerEntry
from playground import lifecycle, services
from playground.models import Generation
from tests.browser.layout import no_sideways_scroll
from tests.browser.test_gallery import SIZES, clip
from tests.browser.test_walkthrough import log_in

PROMPT = "A lighthouse in a storm, waves crashing over the rocks, cinematic"


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def took(owner, seconds: float) -> None:
    """A finished generation of `owner`'s team that took `seconds` from submit to finish."""
    row = clip(owner, f"a harbour at dawn, {seconds} s", 320, 180, (60, 160, 80))
    created = timezone.now() - timedelta(hours=1)
    Generation.objects.filter(pk=row.pk).update(
        created_at=created, completed_at=created + timedelta(seconds=seconds)
    )


@pytest.mark.parametrize("size", SIZES)
def test_a_generations_page_as_a_member_uses_it(
    page: Page, screenshot, console_errors, size, alice, bob
):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    for seconds in (38, 42, 61):
        took(bob, seconds)
    # Claimed by a worker of no cluster before the submit commits, so none of
    # the session's workers (sent the task at commit) can take it first, and
    # held for the whole test: their sweeper would take an expired lease for
    # a dead worker's and run the generation.
    with transaction.atomic():
        running = services.submit(
            user=alice,
            model="kling/v2-1",
            input={"prompt": PROMPT, "resolution": "480p"},
            source=Generation.SOURCE_PLAYGROUND,
            contract="playground",
        )
        assert lifecycle.claim(running.pk, "render-host-7:4242") is not None
        Generation.objects.filter(pk=running.pk).update(
            lease_expires_at=timezone.now() + timedelta(hours=1)
        )
    log_in(page, "alice", "alice-password")
    page.goto(f"/generations/{running.task_id}/")
    panel = page.locator("article.generation")
    expect(panel.locator(".estimate")).to_have_text("usually takes about 42 s")
    expect(panel.locator(".log-lines")).to_contain_text("generating: attempt 1")
    expect(panel.locator(".log-lines")).to_contain_text("0%|")
    assert "render-host-7" not in page.content()

    # The elapsed time moves with the page's polling.
    elapsed = panel.locator(".elapsed")
    before = elapsed.text_content()
    expect(elapsed).not_to_have_text(before, timeout=5_000)
    expect(elapsed).to_have_text(re.compile(r"^\d+ s since submit$"))

    # The team link copies the page's own address.
    panel.locator(".share").get_by_role("button", name="Copy").click()
    expect(panel.locator(".share").get_by_role("button", name="Copied")).to_be_visible()
    assert clipboard(page) == page.url

    # Copy as API call: the curl call for this run, open across polls.
    api_call = panel.locator("details.api-call")
    api_call.locator("summary").click()
    curl = api_call.locator("#api-call-curl")
    expect(curl).to_be_visible()
    api_call.locator(".code-block").first.get_by_role("button", name="Copy").click()
    copied = clipboard(page)
    assert copied == curl.text_content()
    assert "/api/v1/jobs/createTask" in copied and PROMPT in copied
    assert "$REELGATE_API_KEY" in copied
    page.wait_for_timeout(1_500)  # a poll or two swap the panel
    expect(page.locator("details.api-call")).to_have_attribute("open", "")
    api_call.locator(".code-block").nth(1).get_by_role("button", name="Copy").click()
    assert 'os.environ["REELGATE_API_KEY"]' in clipboard(page)
    no_sideways_scroll(page)
    screenshot(page, f"generation-{size}-running")

    # Cancel is a button that asks first.
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Cancel").click()
    expect(page.locator("article.generation")).to_have_attribute("data-state", "fail")
    expect(page.locator("article.generation .failure")).to_contain_text("CANCELLED")
    expect(page.locator("article.generation .events")).to_contain_text("fail")

    # A finished one: download and delete; the deleted one leaves for the gallery.
    done = clip(alice, PROMPT, 320, 180, (40, 90, 200))
    Generation.objects.filter(pk=done.pk).update(
        charged_credits=Decimal("55.00"), created_at=timezone.now() - timedelta(seconds=50)
    )
    page.goto(f"/generations/{done.task_id}/")
    actions = page.locator("article.generation .actions")
    download = actions.get_by_role("link", name="Download MP4")
    expect(download).to_have_attribute("href", f"/media/{done.video.name}")
    expect(actions.get_by_role("button", name="Run again")).to_be_visible()
    expect(actions.get_by_role("link", name="Remix")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, f"generation-{size}-finished")
    page.emulate_media(color_scheme="dark")
    screenshot(page, f"generation-{size}-finished-dark")
    page.emulate_media(color_scheme="light")
    page.once("dialog", lambda dialog: dialog.accept())
    actions.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/gallery/$"))
    expect(page.locator(".message.success")).to_contain_text(f"Deleted {done.task_id}.")
    done.refresh_from_db()
    assert done.deleted_at is not None and done.charged_credits == Decimal("55.00")


def headings_touching_code(page: Page) -> list[str]:
    """Headings less than 8 px from the code block just above or below them."""
    return page.evaluate(
        """() => {
          const code = (el) => el && (el.matches("pre") || el.matches(".code-block"));
          const near = [];
          for (const heading of document.querySelectorAll("main h1, main h2, main h3")) {
            const box = heading.getBoundingClientRect();
            if (!box.height) continue;
            const next = heading.nextElementSibling;
            const prev = heading.previousElementSibling;
            const below = code(next) && next.getBoundingClientRect().top - box.bottom < 8;
            const above = code(prev) && box.top - prev.getBoundingClientRect().bottom < 8;
            if (below || above) near.push(heading.textContent);
          }
          return near;
        }"""
    )


@pytest.mark.parametrize("size", SIZES)
def test_the_api_docs_copy_and_read_well(page: Page, screenshot, console_errors, size, alice):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, "alice", "alice-password")
    page.goto("/docs/")
    openai = page.locator("#snippet-openai")
    page.locator(".code-block").filter(has=openai).get_by_role("button", name="Copy").click()
    assert clipboard(page) == openai.text_content()
    assert headings_touching_code(page) == []
    no_sideways_scroll(page)
    screenshot(page, f"docs-{size}-index")

    page.goto("/docs/models/kling/v2-1/")
    duration = page.locator('tr[data-field="duration"]')
    expect(duration.locator(".json-type")).to_have_text("integer")
    expect(duration.locator(".allowed")).to_contain_text("5 to 10")
    curl = page.locator("#snippet-curl")
    page.locator(".code-block").filter(has=curl).get_by_role("button", name="Copy").click()
    assert clipboard(page) == curl.text_content()

    # Every contract's answers, each block with its own Copy button.
    for contract in page.locator("details.contract-example").all():
        if contract.get_attribute("open") is None:
            contract.locator("summary").click()
    replicate = page.locator('details[data-contract="replicate"]')
    status = page.locator("#example-replicate-status")
    replicate.locator(".code-block").filter(has=status).get_by_role("button", name="Copy").click()
    prediction = json.loads(clipboard(page))
    assert (prediction["status"], prediction["model"]) == ("succeeded", "kling/v2-1")
    assert headings_touching_code(page) == []
    no_sideways_scroll(page)
    screenshot(page, f"docs-{size}-model")
    page.emulate_media(color_scheme="dark")
    screenshot(page, f"docs-{size}-model-dark")


def test_the_admin_is_reelgates_and_its_generation_list_fits_1280_px(
    page: Page, screenshot, console_errors, alice, bob, team
):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    for n in range(3):
        Generation.objects.create(
            owner=bob,
            team_id=team.pk,
            model_id="kling/v2-1-standard",
            input={"prompt": f"{PROMPT}, then a long slow pan across the harbour at dawn {n}"},
            state=Generation.GENERATING,
            progress=40,
            quoted_credits=Decimal("1234.50"),
        )
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "alice", "alice-password")
    page.goto("/admin/")
    expect(page).to_have_title(re.compile(r"\| Reelgate admin$"))
    expect(page.locator("#site-name")).to_have_text("Reelgate admin")
    screenshot(page, "admin-index")

    page.goto("/admin/playground/generation/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    screenshot(page, "admin-generations")
    no_sideways_scroll(page)
    results = page.evaluate(
        "() => { const box = document.querySelector('#changelist-form .results');"
        " return box.scrollWidth - box.clientWidth; }"
    )
    assert results <= 0, f"the generation list scrolls sideways by {results}px"
    page.emulate_media(color_scheme="dark")
    screenshot(page, "admin-generations-dark")
    page.emulate_media(color_scheme="light")

    # A new teammate: team and first grant come before the account fields.
    page.goto("/admin/auth/user/add/")
    team_box = page.get_by_label("Team:").bounding_box()
    credits_box = page.get_by_label("First grant of credits").bounding_box()
    username_box = page.get_by_label("Username").bounding_box()
    assert team_box["y"] < credits_box["y"] < username_box["y"]
    page.get_by_label("Team:").select_option(label=team.name)
    page.get_by_label("First grant of credits").fill("75")
    page.get_by_label("Username").fill("dave")
    page.get_by_label("Password:", exact=True).fill("a long enough passphrase 42")
    page.get_by_label("Password confirmation:").fill("a long enough passphrase 42")
    screenshot(page, "admin-add-user")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("Granted 75.00 credits to Studio.")
    dave = type(alice).objects.get(username="dave")
    assert dave.profile.team == team
    assert LedgerEntry.objects.get(account=team.wallet, note="first grant").amount == 75
    # Its change page: the team and role come before the permission lists.
    team_box = page.locator("#id_profile-0-team").bounding_box()
    permissions_box = page.get_by_label("Superuser status").bounding_box()
    assert team_box["y"] < permissions_box["y"]
    screenshot(page, "admin-user-added")
