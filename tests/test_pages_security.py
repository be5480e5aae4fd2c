"""Security headers on every response, cookies scripts cannot read, and pages
that need no inline script or style (so the Content-Security-Policy holds)."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from playground import services

HEADERS = {
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def page_urls(alice) -> list[str]:
    generation = services.submit(user=alice, model="kling/v2-1", input={"prompt": "a cat"})
    return [
        "/",
        "/models/kling/v2-1/",
        "/models/kling-motion-control/",
        f"/models/kling/v2-1/?from={generation.task_id}",
        "/gallery/",
        "/account/",
        f"/generations/{generation.task_id}/",
        "/docs/",
        "/docs/models/kling-v3/",
        "/admin/",
        "/admin/playground/generation/",
        f"/admin/playground/generation/{generation.pk}/change/",
    ]


@pytest.mark.parametrize("url", ["/login/", "/", "/api/v1/jobs/recordInfo?taskId=x", "/nope/"])
def test_every_response_carries_the_security_headers(client, db, url):
    response = client.get(url)
    for name, value in HEADERS.items():
        assert response[name] == value, name
    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, event handler
    attributes, javascript: URLs and style attributes or elements."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            if "src" not in attributes and attributes.get("type") != "application/json":
                self.found.append(f"inline <script> {attrs}")
            elif "src" in attributes:
                self.scripts.append(attributes["src"])
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on") or name == "style" or name.startswith("hx-on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in {"hx-vals", "hx-headers", "hx-vars"} and "js:" in (value or ""):
                self.found.append(f"<{tag} {name}={value!r}>")


def test_no_page_has_inline_script_or_style(client, alice, page_urls):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    for url in [*page_urls, "/login/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        parser = InlineCode()
        parser.feed(response.content.decode())
        assert parser.found == [], url
        # Our own origin only: static files (htmx is vendored) and the admin's jsi18n.
        assert all(src.startswith("/") and not src.startswith("//") for src in parser.scripts), (
            url,
            parser.scripts,
        )


def test_htmx_is_told_to_inject_no_style_and_evaluate_nothing(signed_in):
    content = signed_in.get("/").content.decode()
    assert '"includeIndicatorStyles": false' in content
    assert '"allowEval": false' in content


def test_session_and_csrf_cookies_are_http_only_and_same_site_lax(alice):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/login/")
    csrf = page.cookies["csrftoken"]
    assert (csrf["httponly"], csrf["samesite"]) == (True, "Lax")
    # The form carries the token: scripts need not read the cookie.
    assert b'name="csrfmiddlewaretoken"' in page.content
    response = browser.post(
        "/login/",
        {
            "username": "alice",
            "password": "alice-password",
            "csrfmiddlewaretoken": page.context["csrf_token"],
        },
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert (session["httponly"], session["samesite"]) == (True, "Lax")
