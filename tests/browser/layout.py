"""What every page must do at any width: never scroll sideways."""

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

# The first few elements whose right edge passes the viewport's, leaving out
# those inside a box that scrolls on its own (a wide table, a code block): what to fix.
WIDER_THAN_THE_PAGE = """() => {
  const width = document.documentElement.clientWidth;
  const name = (element) => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") +
    (typeof element.className === "string" && element.className.trim()
      ? "." + element.className.trim().split(/\\s+/).join(".") : "");
  return Array.from(document.querySelectorAll("body *"))
    .filter((element) => element.getBoundingClientRect().right > width + 0.5)
    .filter((element) => !element.parentElement.closest(".table-scroll, pre"))
    .slice(0, 8)
    .map(name);
}"""


FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def no_sideways_scroll(page: Page) -> None:
    """The page, once laid out, is no wider than the window. Chromium's first
    layout after a navigation can count a table's width inside its scroll box
    for a frame; the check waits up to a second for the layout to settle."""
    try:
        page.wait_for_function(FITS, timeout=1_000)
    except PlaywrightTimeout:
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        wide = page.evaluate(WIDER_THAN_THE_PAGE)
        raise AssertionError(
            f"the page scrolls sideways by {overflow}px; too wide: {wide}"
        ) from None
