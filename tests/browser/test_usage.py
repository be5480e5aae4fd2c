"""The usage page in Chromium, on a desktop (1280 px) and on a phone (390 × 844),
light and dark: both charts are drawn (their canvases hold the lines), a
filter applies as it changes, the CSV downloads, the page never scrolls
sideways, and nothing is logged as an error or refused by the
Content-Security-Policy. Screenshots go to test-output/browser/usage-*.png.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from playground.models import Generation
from tests.browser.layout import no_sideways_scroll
from tests.browser.test_gallery import SIZES
from tests.browser.test_walkthrough import log_in
from tests.test_pages_usage import finished

# The first line's colour in static/js/usage.js, and how far anti-aliasing may move it.
FIRST_LINE = (0x4B, 0x5C, 0xF0)


COUNT_PIXELS = """([chart, colour]) => {
  const canvas = document.querySelector(`[data-chart="${chart}"] canvas`);
  if (!canvas) return 0;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const close = (i, c) => Math.abs(pixels[i + c] - colour[c]) < 40;
  let near = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] > 200 && close(i, 0) && close(i, 1) && close(i, 2)) near++;
  }
  return near;
}"""


def assert_drawn(page: Page, chart: str, colour: tuple[int, int, int], at_least: int) -> None:
    """The chart's canvas shows `colour` (a series' line) in at least that many
    pixels, once drawn: a redraw (a new colour scheme) may come a frame later."""
    arguments = [chart, list(colour)]
    try:
        page.wait_for_function(
            f"(arguments) => ({COUNT_PIXELS})(arguments) >= {at_least}",
            arg=arguments,
            timeout=5_000,
        )
    except PlaywrightTimeout:
        found = page.evaluate(COUNT_PIXELS, arguments)
        raise AssertionError(f"{chart}: {found} pixels of {colour}, not {at_least}") from None


def css_colour(page: Page, name: str) -> tuple[int, int, int]:
    hex_colour = page.evaluate(
        f"() => getComputedStyle(document.documentElement).getPropertyValue('{name}').trim()"
    )
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


@pytest.mark.parametrize("size", SIZES)
def test_the_usage_page_draws_its_charts(page: Page, screenshot, tmp_path, size, alice, bob):
    # The page fixture fails the test on any console error or CSP violation.
    now = timezone.now()
    for day in range(12):
        finished(alice, at=now - timedelta(days=day), charged=f"{10 + day}.00", took=20 + day)
        finished(bob, at=now - timedelta(days=day * 2), model="kling-v2-6", took=90)
    for code in ("TIMEOUT", "UPSTREAM_ERROR", "TIMEOUT"):
        finished(bob, state=Generation.FAIL, code=code, at=now - timedelta(days=3))
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, "alice", "alice-password")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", name="Usage", exact=True)).to_be_visible()
    canvases = page.locator(".chart-box canvas")
    expect(canvases).to_have_count(2)
    assert_drawn(page, "charged", FIRST_LINE, 50)
    assert_drawn(page, "generations", css_colour(page, "--ok"), 50)
    assert_drawn(page, "generations", css_colour(page, "--bad"), 10)
    expect(page.locator("table.by-group tr[data-group='alice'] .charged")).to_have_text("186.00")
    expect(page.locator("table.by-model")).to_contain_text("TIMEOUT × 2")
    no_sideways_scroll(page)
    screenshot(page, f"usage-{size}")

    # Weeks instead of days, applied as the choice changes.
    page.get_by_label("Per", exact=True).select_option("week")
    expect(page).to_have_url(re.compile(r"period=week"))
    expect(page.locator("table.timeline")).to_contain_text("starting")
    expect(canvases).to_have_count(2)
    assert_drawn(page, "charged", FIRST_LINE, 50)
    no_sideways_scroll(page)

    with page.expect_download() as caught:
        page.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / caught.value.suggested_filename
    caught.value.save_as(saved)
    header, *rows = saved.read_text().splitlines()
    assert header.startswith("period_start,member,generations,")
    assert rows

    # Dark mode: drawn again in the dark theme's colours.
    page.emulate_media(color_scheme="dark")
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.card')).backgroundColor"
        " === 'rgb(30, 32, 38)'"
    )
    expect(canvases).to_have_count(2)
    assert_drawn(page, "generations", css_colour(page, "--ok"), 50)
    no_sideways_scroll(page)
    screenshot(page, f"usage-{size}-dark")
