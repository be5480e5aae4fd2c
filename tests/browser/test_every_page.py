"""Every page a person opens, as an owner and as a member, on a desktop
(1280 px, light) and on a phone (390 × 844, dark): each loads, never scrolls
sideways, and logs no error (the page fixture fails on any console error or
Content-Security-Policy violation). Screenshots: test-output/browser/every-*.png.
"""

import pytest
from playwright.sync_api import Page, expect

from accounts import apikeys, budgets
from tests.browser.layout import no_sideways_scroll
from tests.browser.test_gallery import clip
from tests.browser.test_walkthrough import log_in

LOOKS = {
    "desktop-light": {"viewport": (1280, 900), "color_scheme": "light"},
    "phone-dark": {"viewport": (390, 844), "color_scheme": "dark"},
}

# (name, path, a heading the page shows); {task} is a generation of the team.
PAGES = [
    ("models", "/", "Models"),
    ("playground", "/models/kling-2-1/", "Kling 2.1 (standard, pro, master)"),
    ("gallery", "/gallery/", "Team gallery"),
    ("usage", "/usage/", "Usage"),
    ("generation", "/generations/{task}/", None),
    ("account", "/account/", "Account"),
    ("team", "/team/", "Team Studio"),
    ("budgets", "/team/budgets/", "Budgets"),
    ("docs", "/docs/", "API"),
    ("docs-model", "/docs/models/kling-2-1/", None),
]
OWNER_ONLY = [
    ("audit", "/team/audit/", None),
    ("admin", "/admin/", None),
    ("admin-generations", "/admin/playground/generation/", None),
    ("admin-users", "/admin/auth/user/", None),
]


@pytest.fixture
def team_with_history(alice, bob):
    """A team that has generated, spent, budgeted and keyed: pages with rows in them."""
    alice.is_staff = alice.is_superuser = True
    alice.save()
    made = clip(
        alice, "A lighthouse in a storm, waves crashing over the rocks", 320, 180, (40, 90, 200)
    )
    clip(bob, "A portrait of a cat in the rain, very long prompt " * 4, 180, 320, (200, 90, 40))
    key, _ = apikeys.issue(bob, "bob's nightly script with a long name")
    budgets.set_budget(alice.profile.team, member=bob, limit="120", period="week", actor=alice)
    budgets.set_budget(alice.profile.team, api_key=key, limit="40", period="day", actor=bob)
    return made


@pytest.mark.parametrize("look", LOOKS)
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_every_page_fits_the_screen_and_logs_no_error(
    page: Page, screenshot, team_with_history, look, who
):
    width, height = LOOKS[look]["viewport"]
    page.set_viewport_size({"width": width, "height": height})
    page.emulate_media(color_scheme=LOOKS[look]["color_scheme"])
    log_in(page, who, f"{who}-password")
    pages = PAGES + (OWNER_ONLY if who == "alice" else [])
    for name, path, heading in pages:
        response = page.goto(path.format(task=team_with_history.task_id))
        assert response.status == 200, (path, response.status)
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
        no_sideways_scroll(page)
        screenshot(page, f"every-{who}-{look}-{name}")
