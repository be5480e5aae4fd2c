"""The pages' Content-Security-Policy in Chromium: inline code is refused, and
the walk-throughs notice (tests/browser/conftest.py fails any test whose
pages report a violation)."""

from playwright.sync_api import Page, expect


def test_inline_code_is_refused_and_reported(page: Page, csp_violations):
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert csp_violations == []
    # What an injected fragment of HTML would try: an inline script and an
    # inline style. DevTools' evaluate is exempt; the elements it adds are not.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "document.body.dataset.owned = 'yes'";
          document.body.append(script);
          const div = document.createElement("div");
          div.setAttribute("style", "color: red");
          document.body.append(div);
        }"""
    )
    page.wait_for_function("() => window.cspViolationsSeen >= 2")
    expect(page.locator("body")).not_to_have_attribute("data-owned", "yes")
    assert any("script-src" in v for v in csp_violations), csp_violations
    assert any("style-src" in v for v in csp_violations), csp_violations
    csp_violations.clear()  # seen: the fixture's own check passes
