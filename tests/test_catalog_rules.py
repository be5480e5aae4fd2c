"""The generic parts of the spec language, on a made-up model that uses all of them."""

import json
from decimal import Decimal

import pytest

from playground import catalog
from playground.api import openapi

SPEC = {
    "id": "acme/everything",
    "aliases": ["everything"],
    "title": "Everything",
    "vendor": "Acme",
    "summary": "A model that uses every field type and rule form.",
    "kind": "text-to-video",
    "also": ["image-to-video", "motion-control"],
    "fields": [
        {"name": "prompt", "type": "text", "required": True, "max_length": 20},
        {"name": "mode", "type": "select", "choices": ["a", "b", "c"], "default": "a"},
        {
            "name": "seconds",
            "type": "number",
            "integer": True,
            "min": 2,
            "max": 20,
            "step": 2,
            "default": 4,
            "unit": "s",
        },
        {"name": "loud", "type": "switch"},
        {"name": "ref", "type": "image_url"},
        {"name": "frames", "type": "image_urls", "max_items": 3},
        {"name": "clip", "type": "video_url"},
        {"name": "seed", "type": "number", "integer": True, "min": 0, "max": 2147483647},
    ],
    "rules": [
        {"when": {"mode": ["b", "c"]}, "field": "seconds", "max": 10},
        {"when": {"loud": True}, "field": "mode", "one_of": ["b", "c"]},
        {"when": {"clip": {"present": True}}, "field": "ref", "required": True},
        {"when": {"mode": "c", "loud": True}, "field": "frames", "min_items": 2},
        {"when": {"mode": "a", "loud": False}, "field": "frames", "max_items": 1},
    ],
    "pricing": {
        "currency": "credits",
        "per": "second",
        "seconds_field": "seconds",
        "by": ["mode"],
        "labels": {"mode": "mode {}"},
        "rows": [
            {"when": {"mode": "a"}, "price": "1"},
            {"when": {"mode": ["b", "c"]}, "price": 2.5},
        ],
        "source": "Made up for tests.",
    },
    "timeout_seconds": 60,
    "render": {
        "duration": {"field": "seconds"},
        "aspect_ratio": {"default": "1:1"},
        "resolution": {"field": "mode", "map": {"a": "480p", "b": "720p", "c": "1080p"}},
        "audio": {"field": "loud"},
        "prompt": {"field": "prompt"},
        "motion_video": {"field": "clip"},
        "seed": {"field": "seed"},
        "images": ["ref", "frames"],
    },
    "examples": [{"summary": "Plain", "source": "tests", "input": {"prompt": "hi"}}],
}
URL = "https://example.com/x.png"


@pytest.fixture(autouse=True)
def everything(tmp_path, settings):
    (tmp_path / "acme__everything.json").write_text(json.dumps(SPEC))
    settings.CATALOG_SPECS_DIR = tmp_path


def errors_of(payload: dict) -> dict:
    with pytest.raises(catalog.ValidationFailed) as failure:
        catalog.validate("everything", payload)
    return failure.value.errors


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"prompt": "hi", "mode": "b", "seconds": 12},
            {"seconds": ["Must be at most 10 when mode is b or c (got 12)."]},
        ),
        ({"prompt": "hi", "loud": True}, {"mode": ["Must be b or c when loud is on (got a)."]}),
        (
            {"prompt": "hi", "clip": "https://example.com/c.mp4"},
            {"ref": ["Required when clip is given."]},
        ),
        (
            {"prompt": "hi", "mode": "c", "loud": True, "frames": [URL]},
            {"frames": ["Needs at least 2 images when mode is c and loud is on (got 1)."]},
        ),
        (
            {"prompt": "hi", "frames": [URL, URL]},
            {"frames": ["Takes at most 1 image when mode is a and loud is off (got 2)."]},
        ),
        ({"prompt": "x" * 21}, {"prompt": ["Must be at most 20 characters (got 21)."]}),
        ({"prompt": "hi", "seconds": 5}, {"seconds": ["Must be in steps of 2 from 2 (got 5)."]}),
    ],
)
def test_it_evaluates_each_rule_form(payload, errors):
    assert errors_of(payload) == errors


def test_it_accepts_input_that_meets_every_rule():
    normalized = catalog.validate(
        "acme/everything",
        {
            "prompt": "hi",
            "mode": "c",
            "seconds": 10,
            "loud": True,
            "ref": URL,
            "frames": [URL, "https://example.com/y.png"],
            "clip": "https://example.com/c.mp4",
            "seed": "42",
        },
    )
    assert normalized["seed"] == 42
    spec = catalog.get_spec("everything")
    assert spec.render_params(normalized) == {
        "duration": 10.0,
        "aspect_ratio": "1:1",
        "resolution": "1080p",
        "audio": True,
        "prompt": "hi",
        "negative_prompt": "",
        "images": [URL, URL, "https://example.com/y.png"],
        "motion_video": "https://example.com/c.mp4",
        "seed": 42,
    }
    quote = catalog.quote("everything", normalized)
    assert quote.credits == Decimal("25.00")
    assert quote.breakdown == "mode c · 10 s × 2.50 credits/s = 25.00 credits"
    assert spec.price_from == Decimal("2.00")
    assert spec.badges == ["audio", "end frame", "up to 20 s"]
    assert spec.kinds == ("text-to-video", "image-to-video", "motion-control")


def test_it_builds_a_form_for_a_text_field():
    widget = str(catalog.form_class("everything")()["prompt"])
    assert widget.startswith('<input type="text"')
    assert 'maxlength="20"' in widget


def test_it_renders_an_image_list_as_one_url_input_per_image():
    rows = list(catalog.form_class("everything")()["frames"].subwidgets)
    assert [row.data["name"] for row in rows] == ["frames_0", "frames_1", "frames_2"]
    assert all(str(row).startswith('<input type="url"') for row in rows)
    # A plain list (no start or end frame) leaves its blank rows out.
    form = catalog.form_class("everything")(
        data={"prompt": "hi", "mode": "b", "frames_0": URL, "frames_1": "", "frames_2": URL}
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["frames"] == [URL, URL]


def test_it_translates_the_rules_into_json_schema():
    schema = openapi.components()["schemas"]["Input.acme.everything"]
    assert schema["allOf"][0] == {
        "if": {"properties": {"mode": {"enum": ["b", "c"]}}, "required": ["mode"]},
        "then": {"properties": {"seconds": {"maximum": 10}}},
    }
    # loud defaults to false, so an absent loud does not meet {"loud": true}...
    assert schema["allOf"][1]["if"] == {
        "properties": {"loud": {"const": True}},
        "required": ["loud"],
    }
    # ...and mode defaults to a, outside b/c: the rule makes it required.
    assert schema["allOf"][1]["then"] == {
        "properties": {"mode": {"enum": ["b", "c"]}},
        "required": ["mode"],
    }
    assert schema["allOf"][2] == {"if": {"required": ["clip"]}, "then": {"required": ["ref"]}}
    assert schema["allOf"][4]["if"] == {
        "allOf": [
            {"properties": {"mode": {"const": "a"}}},
            {"properties": {"loud": {"const": False}}},
        ]
    }
