"""The playground form: the spec's limits as HTML attributes, validate() as its only check."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from playground import catalog
from playground.catalog.forms import image_list, image_row_label
from playground.catalog.spec import ModelSpec

IMAGE = "https://example.com/media/start.png"
END = "https://example.com/media/end.png"
MODEL_IDS = [spec.id for spec in catalog.all_specs()]


def html(model: str, name: str) -> str:
    return str(catalog.form_class(model)()[name])


# -- what the browser is told ---------------------------------------------------


def test_it_renders_a_required_textarea_with_its_limit():
    widget = html("kling/v2-1-standard", "prompt")
    assert widget.startswith("<textarea")
    assert 'maxlength="5000"' in widget
    assert "required" in widget
    assert 'maxlength="500"' in html("kling/v2-1-standard", "negative_prompt")
    assert "required" not in html("kling/v2-1-standard", "negative_prompt")


def test_it_renders_selects_with_the_default_chosen():
    widget = html("kling/v2-1", "aspect_ratio")
    for ratio in ("16:9", "9:16", "4:3", "1:1", "3:4", "21:9"):
        assert f'value="{ratio}"' in widget
    assert '<option value="16:9" selected>' in widget
    assert '<option value="8">' in html("google/veo-3-1", "duration")


def test_it_renders_an_empty_first_option_for_a_required_select_without_default():
    widget = html("kling-2-1", "mode")
    assert '<option value="" selected>Choose…</option>' in widget
    assert "required" in widget
    assert "Pro image-to-video (1-2 images, end frame)" in widget


def test_it_renders_numbers_with_min_max_and_step():
    widget = html("kling-2-1", "cfg_scale")
    assert 'type="number"' in widget
    for attribute in ('min="0"', 'max="1"', 'step="0.1"', 'value="0.5"'):
        assert attribute in widget
    widget = html("kling-v3", "duration")
    for attribute in ('min="3"', 'max="15"', 'step="1"', 'value="5"'):
        assert attribute in widget


def test_it_renders_switches_as_checkboxes():
    assert 'type="checkbox"' in html("kling/v2-1", "generate_audio")


def test_it_renders_urls_that_the_browser_limits_to_http():
    widget = html("kling-motion-control", "motion_video")
    assert 'type="url"' in widget
    assert 'pattern="[Hh][Tt][Tt][Pp][Ss]?://.+"' in widget
    assert "required" in widget


def test_it_renders_an_image_list_as_one_url_input_per_image_it_may_hold():
    start, end = catalog.form_class("kling-2-1")()["image_urls"].subwidgets
    assert (start.data["name"], end.data["name"]) == ("image_urls_0", "image_urls_1")
    field = catalog.get_spec("kling-2-1").field("image_urls")
    assert [image_row_label(field, index) for index in range(3)] == [
        "Start frame",
        "End frame",
        "Image 3",
    ]
    # Only the first image is required (where the images apply at all).
    assert start.data["attrs"]["required"] and "required" not in end.data["attrs"]
    assert str(start).startswith('<input type="url"')
    # The end frame's row carries its own condition besides the field's.
    assert "pro-image-to-video" in end.data["attrs"]["data-applies-when"]
    assert end.data["attrs"]["data-applies-when"] != start.data["attrs"]["data-applies-when"]


def test_it_posts_image_rows_in_order_to_the_validator():
    form = catalog.form_class("kling-2-1")(
        data={
            "mode": "pro-image-to-video",
            "prompt": "A bud opens",
            # Rows as the page posts them after the end frame moved up.
            "image_urls_0": END,
            "image_urls_1": IMAGE,
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["image_urls"] == [END, IMAGE]


def test_it_leaves_out_blank_rows_of_a_plain_image_list_but_not_of_frames():
    assert image_list(["", IMAGE, " ", END, ""], positional=False) == [IMAGE, END]
    assert image_list(["", END, ""], positional=True) == ["", END]
    assert image_list(f"{IMAGE}\n\n{END}\n", positional=False) == [IMAGE, END]


def test_it_offers_a_number_with_few_values_as_a_list_of_them():
    widget = html("kling/v2-1", "duration")
    assert widget.startswith("<select")
    assert '<option value="5" selected>5 s</option>' in widget
    assert '<option value="10">10 s</option>' in widget
    # A range to type in stays a number input.
    assert 'type="number"' in html("kling-v3", "duration")
    assert 'type="number"' in html("kling-2-1", "cfg_scale")


def test_it_reads_the_same_duration_list_on_every_model_that_has_one():
    for model in ("kling/v2-1", "kling/v2-1-standard", "kling-v2-6", "kling-2-1"):
        widget = html(model, "duration")
        assert '<option value="5" selected>5 s</option>' in widget, model
        assert '<option value="10">10 s</option>' in widget, model
    assert '<option value="8">8 s</option>' in html("google/veo-3-1", "duration")


def test_it_calls_generated_audio_the_same_on_every_model():
    labels = {
        (spec.id, field.name): field.label
        for spec in catalog.all_specs()
        for field in spec.fields
        if spec.render.audio.field == field.name
    }
    assert set(labels) == {
        ("kling/v2-1", "generate_audio"),
        ("kling-v2-6", "sound"),
        ("kling-v3", "sound"),
    }
    assert set(labels.values()) == {"Audio"}


def test_it_reads_an_end_frame_given_without_a_start_frame_as_the_second_image():
    data = {"mode": "pro-image-to-video", "prompt": "x", "image_urls_1": END}
    form = catalog.form_class("kling-2-1")(data=data)
    assert not form.is_valid()
    assert form.errors["image_urls"] == ["Image 1: Must be an http:// or https:// URL (got '')."]


def test_it_labels_and_explains_fields_from_the_spec():
    form = catalog.form_class("kling-2-1")()
    assert form["cfg_scale"].label == "CFG scale"
    assert "Recommended: 0.3-0.7" in form["cfg_scale"].help_text
    assert form.spec is catalog.get_spec("kling-2-1")


def test_it_builds_each_form_class_once():
    assert catalog.form_class("kling-v3") is catalog.form_class("kwaivgi/kling-v3")


# -- what the server does ---------------------------------------------------------


def test_it_gives_validates_output_as_cleaned_data():
    form = catalog.form_class("kling-2-1")(
        data={
            "mode": "pro-image-to-video",
            "prompt": "A bud opens",
            "image_urls_0": IMAGE,
            "image_urls_1": f"  {END}  ",
            "duration": "10",
        }
    )
    assert form.is_valid(), form.errors
    expected = catalog.validate(
        "kling-2-1",
        {
            "mode": "pro-image-to-video",
            "prompt": "A bud opens",
            "image_urls": [IMAGE, END],
            "duration": "10",
        },
    )
    assert form.cleaned_data == expected == form.normalized
    assert form.cleaned_data["cfg_scale"] == 0.5


def test_it_puts_validates_messages_on_the_fields():
    form = catalog.form_class("kling-v2-6")(
        data={"prompt": "x" * 2501, "mode": "std", "duration": "10", "voice": "on"}
    )
    assert not form.is_valid()
    assert form.errors == {
        "prompt": ["Must be at most 2500 characters (got 2501)."],
        "voice": ["Applies only when mode is pro and audio is on (got on)."],
    }
    assert form.normalized is None


def test_it_reads_an_unchecked_box_as_off():
    form = catalog.form_class("kling/v2-1")(data={"prompt": "x", "duration": "10"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["generate_audio"] is False
    assert form.cleaned_data["duration"] == 10


# -- the property: the form and the API accept and reject the same things -------------

GOOD_URLS = [IMAGE, END, "http://cdn.example.org/a.webp", "HTTPS://EXAMPLE.COM/B.JPG"]
# Bad URLs without whitespace: the form splits its list on line breaks.
BAD_URLS = [
    "ftp://example.com/a.png",
    "javascript:alert(1)",
    "https://",
    "//example.com/a",
    "http://[::1/x",
    "example.com/a.png",
    "http:/example.com/a.png",
]
JUNK_NUMBERS = ["", " ", "abc", "NaN", "inf", "1_0", "5.", " 5 ", ".5", "1e1", "-0", "0x10"]


def valid_value(field) -> st.SearchStrategy:
    """Values the field accepts on its own (cross-field rules may still refuse them)."""
    if field.type in ("textarea", "text"):
        return st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "\x00" not in s)
    if field.type == "select":
        return st.sampled_from(field.choice_values).flatmap(
            lambda v: st.sampled_from([v, str(v)] + ([int(v)] if str(v).isdigit() else []))
        )
    if field.type == "number":
        step = field.step or (Decimal(1) if field.integer else Decimal("0.01"))
        count = int((field.max - field.min) / step)
        number = st.integers(0, count).map(lambda k: field.min + k * step)
        return number.flatmap(
            lambda n: st.sampled_from([int(n) if n == int(n) else float(n), str(n), float(n)])
        )
    if field.type == "switch":
        return st.booleans()
    if field.type == "image_urls":
        return st.lists(
            st.sampled_from(GOOD_URLS), min_size=field.min_items or 0, max_size=field.max_items
        )
    return st.sampled_from(GOOD_URLS)


def any_value(field) -> st.SearchStrategy:
    """Valid and invalid values of the types a browser can send for this field."""
    if field.type in ("textarea", "text"):
        limit = field.max_length
        return st.one_of(
            valid_value(field),
            st.text(max_size=10),
            st.sampled_from(["x" * limit, "x" * (limit + 1), "a\r\n" * limit, "  ", "a\x00"]),
        )
    if field.type == "select":
        return st.one_of(
            valid_value(field),
            st.text(max_size=5),
            st.integers(-1, 12),
            st.sampled_from([" 5 ", "5.0", "16:9 ", "PRO"]),
        )
    if field.type == "number":
        low, high = int(field.min) - 2, int(field.max) + 2
        return st.one_of(
            valid_value(field),
            st.integers(low, high),
            st.integers(low, high).map(str),
            st.decimals(field.min - 1, field.max + 1, places=2).map(str),
            st.floats(low, high),
            st.sampled_from(JUNK_NUMBERS),
        )
    if field.type == "switch":
        return st.booleans()
    if field.type == "image_urls":
        return st.lists(st.sampled_from(GOOD_URLS + BAD_URLS), max_size=(field.max_items or 1) + 2)
    return st.one_of(st.sampled_from(GOOD_URLS + BAD_URLS), st.text(max_size=12))


@st.composite
def inputs(draw, spec: ModelSpec) -> dict:
    # Start from a valid example and change some fields, so that valid and
    # invalid inputs both come up often.
    base = dict(draw(st.sampled_from(spec.examples)).input)
    for field in spec.fields:
        action = draw(st.sampled_from(["keep", "keep", "drop", "valid", "any"]))
        if action == "drop":
            base.pop(field.name, None)
        elif action == "valid":
            base[field.name] = draw(valid_value(field))
        elif action == "any":
            base[field.name] = draw(any_value(field))
    return base


def as_posted(spec: ModelSpec, payload: dict) -> dict[str, str]:
    """What a browser would POST for the same values."""
    data = {}
    for name, value in payload.items():
        field = spec.field(name)
        if field.type == "switch":
            if value:
                data[name] = "on"
        elif field.type == "image_urls":
            # One row per image: a list longer than the rows cannot be posted,
            # nor can a blank row of a plain list (the form drops it).
            assume(len(value) <= field.max_items)
            assume(field.items or all(url.strip() for url in value))
            for index, url in enumerate(value):
                data[f"{name}_{index}"] = url
        else:
            data[name] = value if isinstance(value, str) else str(value)
    return data


@pytest.mark.parametrize("model", MODEL_IDS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_it_accepts_and_rejects_exactly_what_validate_does(model, data):
    spec = catalog.get_spec(model)
    payload = data.draw(inputs(spec))
    try:
        normalized, errors = catalog.validate(model, payload), None
    except catalog.ValidationFailed as failure:
        normalized, errors = None, failure.errors
    event("valid" if errors is None else "invalid")
    form = catalog.form_class(model)(data=as_posted(spec, payload))
    assert form.is_valid() == (errors is None)
    if errors is None:
        assert form.cleaned_data == normalized
        # Whatever validates has a price (the loader checks the tables cover it).
        assert catalog.quote(model, normalized).credits >= 0
        return
    assert set(form.errors) == set(errors)
    for name, messages in errors.items():
        # A posted 5 arrives as "5", and messages quote what arrived; for
        # values that were text already the messages are the same.
        if isinstance(payload.get(name), str | None):
            assert form.errors[name] == messages


@pytest.mark.parametrize("spec", catalog.all_specs(), ids=lambda spec: spec.id)
def test_a_models_badges_name_what_its_controls_do(spec):
    """The badges on a model's card say what its form offers, in the form's words."""
    labels = {field.label for field in spec.fields}
    labels |= {item.label for field in spec.fields for item in field.items}
    badges = spec.badges
    # Audio: always made (Veo's native sound), or the form's Audio switch.
    assert ("audio" in badges) == (spec.render.audio.default is True or "Audio" in labels)
    assert ("end frame" in badges) == ("End frame" in labels)
    duration = spec.field(spec.render.duration.field)
    longest = duration.max if duration.type == "number" else max(map(int, duration.choice_values))
    assert f"up to {int(longest)} s" in badges
