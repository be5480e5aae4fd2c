"""A model's playground: the form from its spec, the live check, submit, remix."""

from decimal import Decimal

import pytest

from accounts.models import CreditAccount
from playground import catalog, services
from playground.contracts.snippets import PROMPT_PLACEHOLDER, draft_input
from playground.models import Generation

PROMPT = "A paper boat drifting down a rainy street, macro lens"
START = "https://example.com/media/start.png"
END = "https://example.com/media/end.png"
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
    assert '<option value="10">10 s</option>' in content  # 5 or 10: a list
    assert 'type="checkbox" name="generate_audio"' in content
    assert '<span class="count">0</span> / 5000 characters' in content
    assert 'hx-post="/models/kling/v2-1/validate/"' in content
    # Typing, pasting and autofill all fire `input`; keyup and change miss some.
    assert 'hx-trigger="input delay:400ms"' in content
    # The price of the defaults is a flat 55 even before a prompt is typed.
    assert '<span class="amount">55.00</span>' in content


def test_it_offers_uploads_for_url_fields(signed_in):
    content = signed_in.get("/models/kling-motion-control/").content.decode()
    assert 'data-upload-url="/uploads/?kind=image"' in content
    assert 'data-upload-url="/uploads/?kind=video"' in content
    assert 'accept="video/mp4,video/quicktime"' in content


def rows(content: str) -> list[str]:
    return content.split('<li class="image-row"')[1:]


def test_it_renders_an_image_list_as_rows_with_a_spare_for_each_image_more(signed_in):
    content = signed_in.get("/models/kling-2-1/").content.decode()
    start, end = rows(content)
    assert 'for="id_image_urls_0">Start frame</label>' in start
    assert 'name="image_urls_0"' in start and "data-spare" not in start.split(">")[0]
    # The end frame waits, hidden, for the "Add end frame" button.
    assert "data-spare hidden" in end.split(">")[0]
    assert 'name="image_urls_1"' in end
    add = '<button type="button" class="secondary small" data-image-add>Add end frame</button>'
    assert add in content
    for row in (start, end):
        assert "data-image-file" in row and "data-image-remove" in row
        assert 'data-image-move="-1"' in row and 'data-image-move="1"' in row
    # Moving rows around needs no inline code: the page's CSP allows none.
    assert "onclick" not in content and 'style="' not in content


def test_it_shows_each_image_given_in_its_own_row_with_a_thumbnail(signed_in, alice):
    original = services.submit(
        user=alice,
        model="kling-2-1",
        input={
            "mode": "pro-image-to-video",
            "prompt": PROMPT,
            "image_urls": [START, END],
        },
    )
    content = signed_in.get(f"/models/kling-2-1/?from={original.task_id}").content.decode()
    start, end = rows(content)
    assert f'<img src="{START}" alt="Start frame">' in start
    assert f'value="{END}"' in end and "data-spare" not in end.split(">")[0]
    assert f'<img src="{END}" alt="End frame">' in end
    # Both images are in: no spare row is left to add.
    assert "data-image-add disabled>" in content


def test_a_single_image_field_is_one_row_labelled_by_the_field(signed_in):
    content = signed_in.get("/models/kling-v3/").content.decode()
    (row,) = rows(content)
    assert '<label for="id_image">Start image</label>' in row
    assert 'name="image"' in row and "data-image-file" in row and "data-image-remove" in row
    assert "data-image-move" not in row and "data-image-add" not in content


def test_it_submits_image_rows_in_their_order(signed_in):
    signed_in.post(
        "/models/kling-2-1/",
        {
            "mode": "pro-image-to-video",
            "prompt": PROMPT,
            "image_urls_0": END,
            "image_urls_1": START,
        },
    )
    assert Generation.objects.get().input["image_urls"] == [END, START]


def test_it_redirects_an_alias_to_the_model_id(signed_in):
    response = signed_in.get("/models/kling-video/kling-v2-6/")
    assert response.status_code == 302
    assert response["Location"] == "/models/kling-v2-6/"


def test_it_answers_404_for_an_unknown_model(signed_in):
    assert signed_in.get("/models/kling/v9/").status_code == 404


def errors_of(content: str, name: str) -> str:
    return content.split(f'id="errors-{name}" hx-swap-oob="true">')[1].split("</div>")[0]


def test_the_live_check_puts_errors_in_place_and_still_prices_the_options(signed_in):
    response = signed_in.post(
        "/models/kling-v3/validate/",
        {"prompt": "", "mode": "pro", "duration": "10", "_touched": "mode,prompt"},
        **HTMX,
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<section id="price"')
    assert "A prompt is needed when no image is given" in errors_of(content, "prompt")
    assert 'aria-invalid="true"' not in content  # the inputs themselves are not swapped
    # pro, 10 s: 0.0853 USD/s at 0.01 USD a credit, whatever the prompt.
    assert '<span class="amount">85.30</span>' in content
    assert "pro · 10 s × 8.53 credits/s = 85.30 credits" in content
    assert "Fix the highlighted fields to generate." in content


def test_the_live_check_says_nothing_of_a_field_not_touched_yet(signed_in):
    response = signed_in.post(
        "/models/kling/v2-1/validate/",
        {"prompt": "", "resolution": "480p", "duration": "5", "_touched": "resolution"},
        **HTMX,
    )
    content = response.content.decode()
    assert errors_of(content, "prompt") == ""
    # The price of the options chosen is the price: no field is highlighted.
    assert '<span class="amount">55.00</span>' in content
    assert "highlighted" not in content
    assert "To generate, fill in Prompt." in content


def test_the_live_check_shows_every_error_once_generate_was_tried(signed_in):
    response = signed_in.post(
        "/models/kling/v2-1/validate/", {"prompt": "", "_touched": "*"}, **HTMX
    )
    assert errors_of(response.content.decode(), "prompt") == "<p>This field is required.</p>"


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
        {"prompt": "x" * 5001, "duration": "7", "resolution": "4k", "_touched": "*"},
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
    # The credits it holds leave the header's balance at once.
    balance = '<span id="header-balance" class="balance" hx-swap-oob="true">445.00 credits</span>'
    assert balance in content


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


# -- the API call shown beside the form --------------------------------------------


def snippet(content: str, name: str) -> str:
    return content.split(f'<pre id="snippet-{name}"')[1].split("</pre>")[0]


def test_the_request_panel_types_values_as_the_api_takes_them_before_the_form_is_valid(
    signed_in,
):
    response = signed_in.post(
        "/models/kling-v3/validate/",
        {"prompt": "", "mode": "pro", "duration": "10", "sound": "on", "_touched": "sound"},
        **HTMX,
    )
    content = response.content.decode()
    curl = snippet(content, "curl")
    assert "&quot;duration&quot;: 10," in curl  # a number, not "10"
    assert "&quot;sound&quot;: true" in curl  # a boolean, not "on"
    assert "&quot;aspect_ratio&quot;: &quot;16:9&quot;" in curl  # the default filled in
    # No prompt yet: a placeholder, so the call copied now is one that runs.
    assert f"&quot;prompt&quot;: &quot;{PROMPT_PLACEHOLDER}&quot;" in curl
    python = snippet(content, "python")
    assert "&#x27;duration&#x27;: 10" in python and "&#x27;sound&#x27;: True" in python


def test_the_first_render_shows_a_call_the_api_accepts(signed_in):
    content = signed_in.get("/models/kling/v2-1/").content.decode()
    curl = snippet(content, "curl")
    assert f"&quot;prompt&quot;: &quot;{PROMPT_PLACEHOLDER}&quot;" in curl
    assert "&quot;duration&quot;: 5," in curl and "&quot;generate_audio&quot;: false" in curl


def needs_only_a_prompt(spec) -> bool:
    needed = {f.name for f in spec.fields if f.required and f.default is None}
    # A prompt the spec's rules ask for when no image is given counts too.
    return needed <= {spec.render.prompt.field}


PROMPT_ONLY = [spec for spec in catalog.all_specs() if needs_only_a_prompt(spec)]


def test_most_models_need_nothing_but_a_prompt():
    assert {spec.id for spec in PROMPT_ONLY} >= {"kling/v2-1", "kling-v3", "google/veo-3-1"}


@pytest.mark.parametrize("spec", PROMPT_ONLY, ids=lambda spec: spec.id)
def test_the_placeholder_prompt_makes_a_valid_call_of_a_model_that_needs_only_a_prompt(spec):
    catalog.validate(spec.id, draft_input(spec, {}))


def test_a_value_the_validator_refuses_is_shown_as_typed(signed_in):
    spec = catalog.get_spec("kling-v3")
    shown = draft_input(spec, {"prompt": "x", "duration": "ten", "sound": True})
    assert shown["duration"] == "ten" and shown["sound"] is True and shown["prompt"] == "x"


# -- credits -------------------------------------------------------------------------


def generate_button(content: str) -> str:
    return content.split('id="generate"')[1].split(">")[0]


def test_generate_is_disabled_with_a_way_to_credits_when_they_are_too_few(client, bob):
    client.force_login(bob)  # bob has no credits
    content = client.get("/models/kling/v2-1/").content.decode()
    assert "disabled" in generate_button(content)
    assert "This costs 55.00 credits; you have 0.00 available." in content
    assert '<a href="/account/">Get credits</a>' in content


def test_generate_is_disabled_from_the_lowest_price_while_options_are_unchosen(client, bob):
    client.force_login(bob)
    content = client.get("/models/kling-2-1/").content.decode()  # no mode chosen yet
    assert "disabled" in generate_button(content)
    assert "This model costs from 25.00 credits; you have 0.00 available." in content


def test_the_live_check_keeps_generate_in_step_with_the_price(signed_in):
    content = signed_in.get("/models/kling-v3/").content.decode()
    assert "disabled" not in generate_button(content)
    assert "Get credits" not in content
    # 15 s in pro with audio: 0.128 USD/s × 15 = 192 credits, within alice's 500.
    response = signed_in.post(
        "/models/kling-v3/validate/",
        {"prompt": PROMPT, "mode": "pro", "duration": "15", "sound": "on"},
        **HTMX,
    )
    content = response.content.decode()
    assert '<button type="submit" id="generate" form="model-form" hx-swap-oob="true">' in content
    assert '<p id="short-note" class="short-note" hx-swap-oob="true"></p>' in content
    assert "disabled" not in generate_button(content)


def test_the_header_shows_the_available_credits(signed_in):
    content = signed_in.get("/models/kling/v2-1/").content.decode()
    assert '<span id="header-balance" class="balance">500.00 credits</span>' in content
