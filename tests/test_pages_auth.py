"""Every browser page needs a login, and every form a CSRF token."""

import pytest
from django.test import Client

from playground import services

PAGES = [
    "/",
    "/models/kling/v2-1/",
    "/gallery/",
    "/account/",
    "/generations/gen_unknown/",
    "/generations/gen_unknown/status/",
]
POSTS = [
    "/models/kling/v2-1/",
    "/models/kling/v2-1/validate/",
    "/uploads/",
    "/account/keys/",
    "/account/keys/rg_whatever/revoke/",
    "/generations/gen_unknown/run-again/",
    "/generations/gen_unknown/cancel/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("url", POSTS)
def test_it_refuses_anonymous_posts(client, url):
    response = client.post(url, {"prompt": "a cat"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
def test_it_serves_the_login_page_to_anyone(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


@pytest.mark.django_db
def test_it_logs_in_and_out(alice):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/login/")
    token = page.cookies["csrftoken"].value
    response = browser.post(
        "/login/",
        {"username": "alice", "password": "alice-password", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert browser.get("/").status_code == 200
    home = browser.get("/")
    assert b'action="/logout/"' in home.content
    browser.post("/logout/", {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value})
    assert browser.get("/").status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("url", POSTS)
def test_it_refuses_posts_without_a_csrf_token(alice, url):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.post(url, {"prompt": "a cat", "name": "key"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_it_puts_the_csrf_token_in_htmx_headers(client, alice):
    client.force_login(alice)
    response = client.get("/")
    assert b'hx-headers=\'{"X-CSRFToken": "' in response.content


@pytest.mark.django_db
def test_it_serves_htmx_from_our_own_static_files(client, alice):
    client.force_login(alice)
    content = client.get("/").content.decode()
    assert '<script src="/static/js/htmx.min.js"' in content
    assert "unpkg" not in content and "cdn" not in content.lower()


@pytest.mark.django_db
def test_it_hides_other_teams_generations_behind_404s(client, alice, carol):
    generation = services.submit(user=alice, model="kling/v2-1", input={"prompt": "a cat"})
    client.force_login(carol)
    task = generation.task_id
    for url in [
        f"/generations/{task}/",
        f"/generations/{task}/status/",
        f"/models/kling/v2-1/?from={task}",
    ]:
        assert client.get(url).status_code == 404, url
    for url in [f"/generations/{task}/run-again/", f"/generations/{task}/cancel/"]:
        assert client.post(url).status_code == 404, url
    submitted = client.post("/models/kling/v2-1/", {"prompt": "mine now", "from": task})
    assert submitted.status_code == 404
    generation.refresh_from_db()
    assert generation.state == "queuing"  # not cancelled by the other team
