"""A model's playground: the form from its spec, the live check, submit, remix."""

from decimal import Decimal

import pytest

from accounts.models import CreditAccount
from playground import services
from playground.models import Generation

PROMPT = "A paper boat drifting down a rainy street, macro lens"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_it_renders_the_form_built_from_the_spec(signed_in):
    content = signed_in.get("/models/kling/v2-1/").content.decode()
    assert "<h1>Kling 2.1</h1>" in content
    assert 'name="prompt"' in content and 'maxlength="5000"' in content
    assert '<option value="720p" selected>' in content
    assert 'type="number"' in content and 'step="5"' in content
    assert 'type="checkbox" name="generate_audio"' in content
    assert '<span class="count">0</span> / 5000 characters' in content
    assert 'hx-post="/models/kling/v2-1/validate/"' in content
    assert 'hx-trigger="change, keyup delay:400ms"' in content
    # The price of the defaults is a flat 55 even before a prompt is typed.
    assert '<span class="amount">55.00</span>' in content


def test_it_offers_uploads_for_url_fields(signed_in):
    content = signed_in.get("/models/kling-motion-control/").content.decode()
    assert 'data-upload-url="/uploads/?kind=image"' in content
    assert 'data-upload-url="/uploads/?kind=video"' in content
    assert 'accept="video/mp4,video/quicktime"' in content


def test_it_redirects_an_alias_to_the_model_id(signed_in):
    response = signed_in.get("/models/kling-video/kling-v2-6/")
    assert response.status_code == 302
    assert response["Location"] == "/models/kling-v2-6/"


def test_it_answers_404_for_an_unknown_model(signed_in):
    assert signed_in.get("/models/kling/v9/").status_code == 404


def test_the_live_check_puts_errors_in_place_and_still_prices_the_options(signed_in):
    response = signed_in.post(
        "/models/kling-v3/validate/", {"prompt": "", "mode": "pro", "duration": "10"}, **HTMX
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<section id="price"')
    errors = content.split('id="errors-prompt" hx-swap-oob="true">')[1].split("</div>")[0]
    assert "A prompt is needed when no image is given" in errors
    # pro, 10 s: 0.0853 USD/s at 0.01 USD a credit.
    assert '<span class="amount">85.30</span>' in content
    assert "pro · 10 s × 8.53 credits/s = 85.30 credits" in content
    assert "fix the highlighted fields" in content


def test_the_live_check_quotes_a_valid_form_and_clears_errors(signed_in):
    response = signed_in.post(
        "/models/kling-v3/validate/",
        {"prompt": PROMPT, "mode": "std", "duration": "5", "sound": "on"},
        **HTMX,
    )
    content = response.content.decode()
    assert '<div class="field-errors" id="errors-prompt" hx-swap-oob="true"></div>' in content
    assert '<span class="amount">47.80</span>' in content  # 0.0956 × 5 s
    assert "fix the highlighted fields" not in content


def test_the_live_check_reports_every_field_the_validator_refuses(signed_in):
    response = signed_in.post(
        "/models/kling/v2-1/validate/",
        {"prompt": "x" * 5001, "duration": "7", "resolution": "4k"},
        **HTMX,
    )
    content = response.content.decode()
    assert "Must be at most 5000 characters (got 5001)." in content
    assert "Must be in steps of 5 from 5 (got 7)." in content
    assert "Must be one of 480p, 720p (got &#x27;4k&#x27;)." in content


def test_the_request_panel_shows_the_normalized_create_task_call(signed_in):
    response = signed_in.post(
        "/models/kling/v2-1/validate/",
        {"prompt": PROMPT, "resolution": "480p", "duration": "10"},
        HTTP_HOST="127.0.0.1:8000",
        **HTMX,
    )
    content = response.content.decode()
    curl = content.split('<pre id="snippet-curl" hx-swap-oob="true">')[1].split("</pre>")[0]
    assert "http://127.0.0.1:8000/api/v1/jobs/createTask" in curl
    assert "Authorization: Bearer" in curl
    assert "&quot;duration&quot;: 10," in curl  # a number, as normalized
    assert "&quot;aspect_ratio&quot;: &quot;16:9&quot;" in curl  # the default filled in
    assert 'id="snippet-python"' in content and "httpx" in content
    assert 'id="snippet-javascript"' in content and "fetch(" in content


def test_it_submits_through_the_submit_service_and_shows_the_live_panel(signed_in, alice):
    response = signed_in.post(
        "/models/kling/v2-1/",
        {"prompt": PROMPT, "resolution": "480p", "duration": "5"},
        HTTP_HX_TARGET="result",
        **HTMX,
    )
    generation = Generation.objects.get()
    assert (generation.source, generation.contract) == ("playground", "playground")
    assert generation.owner == alice
    assert generation.input["resolution"] == "480p"
    assert CreditAccount.objects.get(team__members__user=alice).held == Decimal("55.00")
    content = response.content.decode()
    assert f'hx-get="/generations/{generation.task_id}/status/"' in content
    assert 'hx-trigger="every 1s"' in content
    assert "55.00 credits held" in content


def test_it_redirects_to_the_generation_without_htmx(signed_in):
    response = signed_in.post("/models/kling/v2-1/", {"prompt": PROMPT})
    generation = Generation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/generations/{generation.task_id}/"


def test_it_refuses_a_submit_with_too_few_credits_and_creates_nothing(client, bob):
    client.force_login(bob)  # bob has no credits
    response = client.post("/models/kling/v2-1/", {"prompt": PROMPT}, **HTMX)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Not enough credits: this generation costs 55.00 credits" in content
    assert "you have 0.00 available. Nothing was charged." in content
    assert not Generation.objects.exists()
    without_js = client.post("/models/kling/v2-1/", {"prompt": PROMPT})
    assert without_js.status_code == 200
    assert "Not enough credits" in without_js.content.decode()
    assert not Generation.objects.exists()


def test_it_shows_field_errors_when_a_submit_is_invalid(signed_in):
    response = signed_in.post("/models/kling/v2-1/", {"prompt": "", "duration": "3"})
    content = response.content.decode()
    assert response.status_code == 200
    assert "Please fix the highlighted fields." in content
    assert "This field is required." in content
    assert 'aria-invalid="true"' in content
    assert not Generation.objects.exists()


def test_it_prefills_a_remix_of_a_teammates_generation(client, alice, bob):
    original = services.submit(
        user=alice,
        model="kling-v2-6",
        input={"prompt": PROMPT, "mode": "pro", "duration": "10", "sound": True},
    )
    client.force_login(bob)
    content = client.get(f"/models/kling-v2-6/?from={original.task_id}").content.decode()
    assert f'Remixing <a href="/generations/{original.task_id}/">' in content
    assert f"\n{PROMPT}</textarea>" in content
    assert '<option value="pro" selected>' in content
    assert '<option value="10" selected>' in content
    sound_input = content.split('name="sound"')[1].split(">")[0]
    assert "checked" in sound_input
    assert f'<input type="hidden" name="from" value="{original.task_id}">' in content
    assert '<span class="amount">10.64</span>' in content  # its exact price


def test_it_sends_a_remix_to_the_page_of_its_own_model(signed_in, alice):
    original = services.submit(user=alice, model="kling/v2-1", input={"prompt": PROMPT})
    response = signed_in.get(f"/models/kling-v3/?from={original.task_id}")
    assert response["Location"] == f"/models/kling/v2-1/?from={original.task_id}"


def test_a_remix_records_where_it_came_from(signed_in, alice):
    original = services.submit(user=alice, model="kling/v2-1", input={"prompt": PROMPT})
    signed_in.post(
        "/models/kling/v2-1/", {"prompt": PROMPT + ", at dawn", "from": original.task_id}
    )
    remix = Generation.objects.exclude(pk=original.pk).get()
    assert remix.remixed_from == original
    assert remix.prompt.endswith("at dawn")
