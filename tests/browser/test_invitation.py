"""An invitation in Chromium, on a desktop (1280 px) and on a phone (390 × 844).

alice, the owner, invites someone on the team page and reads the link off
it; a second browser (another person) opens the link, signs up, lands in the
team, sees its gallery and generates a video (a real worker renders it);
alice finds the newcomer's spend in the usage chart, makes them an admin and
finds that in the audit log. No page scrolls sideways; dark mode keeps dark cards.
Screenshots go to test-output/browser/invitation-*.png.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Invitation, Profile
from tests.browser.conftest import REPORT_CSP_VIOLATIONS
from tests.browser.layout import no_sideways_scroll
from tests.browser.test_gallery import clip
from tests.browser.test_walkthrough import log_in

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
PASSWORD = "a-long-invited-password"


@pytest.mark.parametrize("size", SIZES)
def test_an_invited_person_signs_up_into_the_team(
    page: Page, browser, live_server, csp_violations, screenshot, size, worker, alice, bob
):
    width, height = SIZES[size]
    harbour = clip(alice, "the team's harbour at dawn", 320, 180, (40, 90, 200))
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, "alice", "alice-password")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Team Studio")).to_be_visible()
    expect(page.locator('tr[data-member="bob"]')).to_contain_text("Member")
    no_sideways_scroll(page)
    screenshot(page, f"invitation-{size}-team")

    # Invite: the link is shown once, with a copy button.
    page.get_by_label("E-mail address").fill(f"newcomer-{size}@example.com")
    page.get_by_label("Role", exact=True).select_option("member")
    page.get_by_role("button", name="Invite").click()
    notice = page.locator(".new-invitation")
    expect(notice).to_contain_text(f"newcomer-{size}@example.com is invited as member.")
    expect(notice).to_contain_text("The link below went to them by e-mail.")
    link = page.locator("#invitation-link").text_content()
    assert re.fullmatch(re.escape(live_server.url) + r"/join/[\w-]{40,}/", link), link
    expect(page.locator("tr[data-invitation]")).to_have_count(1)
    no_sideways_scroll(page)
    screenshot(page, f"invitation-{size}-invited")

    # Someone else, in a browser of their own, opens the link and signs up.
    # Its Content-Security-Policy violations fail the test as the page fixture's do.
    context = browser.new_context(viewport={"width": width, "height": height})
    context.expose_function(
        "reportCspViolation", lambda violation: csp_violations.append(violation)
    )
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    try:
        guest = context.new_page()
        guest.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text and csp_violations.append(message.text)
            ),
        )
        guest.set_default_timeout(15_000)
        guest.goto(link)
        expect(guest.get_by_role("heading", name="Join Studio")).to_be_visible()
        expect(guest.locator(".join")).to_contain_text("alice invites you to the team Studio")
        no_sideways_scroll(guest)
        screenshot(guest, f"invitation-{size}-join")
        guest.get_by_label("Username").fill(f"newcomer-{size}")
        guest.get_by_label("Password", exact=True).fill(PASSWORD)
        guest.get_by_label("Password confirmation").fill(PASSWORD)
        guest.get_by_role("button", name="Create account and join").click()

        # In the team, signed in, welcomed.
        expect(guest.get_by_role("heading", name="Team Studio")).to_be_visible()
        expect(guest.locator(".messages")).to_contain_text(
            "Welcome to Studio: you joined as member."
        )
        expect(guest.locator(f'tr[data-member="newcomer-{size}"]')).to_contain_text("(you)")
        no_sideways_scroll(guest)
        screenshot(guest, f"invitation-{size}-joined")

        # The team's gallery is theirs to see.
        guest.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery").click()
        cards = guest.locator(".gallery-card")
        expect(cards).to_have_count(1)
        expect(cards.first).to_have_attribute("data-task-id", harbour.task_id)
        expect(cards.first).to_contain_text("the team's harbour at dawn")
        no_sideways_scroll(guest)
        screenshot(guest, f"invitation-{size}-gallery")

        # They generate, from the team's wallet.
        guest.goto(f"{live_server.url}/models/kling/v2-1/")  # its context has no base URL
        guest.get_by_label("Prompt").fill(f"A lantern on a quay, by newcomer-{size}")
        guest.get_by_role("button", name="Generate").click()
        expect(guest.locator("#result article.generation")).to_have_attribute(
            "data-state", "success", timeout=90_000
        )

        # The link worked once.
        guest.goto(link)
        expect(guest.get_by_role("heading", name="This invitation cannot be used")).to_be_visible()
        expect(guest.locator(".join")).to_contain_text("has been used already")
    finally:
        context.close()

    profile = Profile.objects.select_related("team").get(user__username=f"newcomer-{size}")
    assert (profile.team.name, profile.role) == ("Studio", Profile.MEMBER)
    assert Invitation.objects.get().accepted_by == profile.user

    # alice sees what the newcomer spent, in the chart by member and its table.
    page.goto("/usage/?group=member")
    expect(page.locator(".chart-box canvas")).to_have_count(2)
    expect(page.locator(".chart-box").first).to_contain_text(f"newcomer-{size}")
    newcomer = page.locator(f"table.by-group tr[data-group='newcomer-{size}']")
    expect(newcomer.locator(".charged")).to_have_text("55.00")
    no_sideways_scroll(page)
    screenshot(page, f"invitation-{size}-usage")

    # alice makes the newcomer an admin, and the audit log says so.
    page.goto("/team/")
    row = page.locator(f'tr[data-member="newcomer-{size}"]')
    row.get_by_label(f"Role of newcomer-{size}").select_option("admin")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#team-body .notice.success")).to_have_text(
        f"newcomer-{size} is admin now."
    )
    expect(page.locator("tr[data-invitation]")).to_have_count(0)
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    first = page.locator("table.audit tbody tr").first
    expect(first).to_contain_text("Role changed")
    expect(first).to_contain_text("role: member → admin")
    expect(page.locator('tr[data-action="member.joined"]')).to_contain_text(f"newcomer-{size}")
    no_sideways_scroll(page)
    screenshot(page, f"invitation-{size}-audit")

    # Dark mode: the team page's cards stay dark.
    page.goto("/team/")
    page.emulate_media(color_scheme="dark")
    card_colour = page.evaluate(
        "() => getComputedStyle(document.querySelector('#members')).backgroundColor"
    )
    assert card_colour == "rgb(30, 32, 38)"
    no_sideways_scroll(page)
    screenshot(page, f"invitation-{size}-team-dark")
