"""validate(): bad input names the field and says what is wrong; good input is normalized."""

import pytest

from playground import catalog
from playground.catalog import UnknownModel, ValidationFailed

IMAGE = "https://example.com/media/start.png"
VIDEO = "https://example.com/media/dance.mp4"

# A valid base input per model; each bad case changes one thing in it.
BASE = {
    "kling/v2-1": {"prompt": "A fox in the snow"},
    "google/veo-3-1": {"prompt": "Candy keyboard"},
    "kling/v2-1-standard": {"prompt": "Steam rises", "image_url": IMAGE},
    "kling-v2-6": {"prompt": "Beach at sunset", "mode": "pro"},
    "kling-v3": {"prompt": "Paper boat"},
    "kling-motion-control": {"image": IMAGE, "motion_video": VIDEO},
    "kling-2-1": {"mode": "pro-image-to-video", "prompt": "A bud opens", "image_urls": [IMAGE]},
}
DROP = object()

BAD_INPUTS = [
    # textarea / text
    ("kling/v2-1", "prompt", DROP, "prompt", "This field is required."),
    ("kling/v2-1", "prompt", "   ", "prompt", "This field is required."),
    ("kling/v2-1", "prompt", 5, "prompt", "Must be text (got 5)."),
    (
        "kling/v2-1-standard",
        "prompt",
        "x" * 5012,
        "prompt",
        "Must be at most 5000 characters (got 5012).",
    ),
    (
        "kling/v2-1-standard",
        "negative_prompt",
        "y" * 501,
        "negative_prompt",
        "Must be at most 500 characters (got 501).",
    ),
    ("kling-v3", "prompt", "bad\x00byte", "prompt", "Must not contain null characters."),
    # select
    (
        "kling/v2-1",
        "aspect_ratio",
        "2:1",
        "aspect_ratio",
        "Must be one of 16:9, 9:16, 4:3, 1:1, 3:4, 21:9 (got '2:1').",
    ),
    ("kling/v2-1", "resolution", "1080p", "resolution", "Must be one of 480p, 720p (got '1080p')."),
    ("google/veo-3-1", "duration", 6, "duration", "Must be one of 5, 8 (got 6)."),
    ("google/veo-3-1", "duration", True, "duration", "Must be one of 5, 8 (got true)."),
    ("kling/v2-1-standard", "duration", 5.0, "duration", "Must be one of 5, 10 (got 5.0)."),
    ("kling-v2-6", "mode", "turbo", "mode", "Must be one of std, pro (got 'turbo')."),
    ("kling-2-1", "mode", DROP, "mode", "This field is required."),
    # number
    ("kling-v3", "duration", "five", "duration", "Must be a number (got 'five')."),
    ("kling-v3", "duration", True, "duration", "Must be a number (got true)."),
    ("kling-v3", "duration", "NaN", "duration", "Must be a number (got 'NaN')."),
    ("kling-v3", "duration", float("inf"), "duration", "Must be a finite number."),
    ("kling-v3", "duration", [5], "duration", "Must be a number (got [5])."),
    ("kling-v3", "duration", 2, "duration", "Must be at least 3 (got 2)."),
    ("kling-v3", "duration", "16", "duration", "Must be at most 15 (got 16)."),
    ("kling-v3", "duration", 7.5, "duration", "Must be a whole number (got 7.5)."),
    ("kling-motion-control", "duration", 31, "duration", "Must be at most 30 (got 31)."),
    ("kling/v2-1", "duration", 7, "duration", "Must be in steps of 5 from 5 (got 7)."),
    ("kling-2-1", "cfg_scale", 0.15, "cfg_scale", "Must be in steps of 0.1 from 0 (got 0.15)."),
    ("kling-2-1", "cfg_scale", "1.1", "cfg_scale", "Must be at most 1 (got 1.1)."),
    ("kling-2-1", "cfg_scale", -0.1, "cfg_scale", "Must be at least 0 (got -0.1)."),
    # switch
    ("kling/v2-1", "generate_audio", "yes", "generate_audio", "Must be true or false (got 'yes')."),
    ("kling-v3", "sound", 1, "sound", "Must be true or false (got 1)."),
    # image_url / video_url
    (
        "kling/v2-1-standard",
        "image_url",
        "ftp://example.com/a.png",
        "image_url",
        "Must be an http:// or https:// URL (got 'ftp://example.com/a.png').",
    ),
    (
        "kling/v2-1-standard",
        "image_url",
        "javascript:alert(1)",
        "image_url",
        "Must be an http:// or https:// URL (got 'javascript:alert(1)').",
    ),
    (
        "kling/v2-1-standard",
        "image_url",
        "file:///etc/passwd",
        "image_url",
        "Must be an http:// or https:// URL (got 'file:///etc/passwd').",
    ),
    (
        "kling/v2-1-standard",
        "image_url",
        "https://",
        "image_url",
        "Must be a URL with a host name (got 'https://').",
    ),
    (
        "kling/v2-1-standard",
        "image_url",
        "http://[::1/a.png",
        "image_url",
        "Must be a valid URL (got 'http://[::1/a.png').",
    ),
    (
        "kling/v2-1-standard",
        "image_url",
        "https://example.com/a b.png",
        "image_url",
        "Must be a URL without spaces or line breaks.",
    ),
    ("kling/v2-1-standard", "image_url", 42, "image_url", "Must be a URL (got 42)."),
    ("kling/v2-1-standard", "image_url", DROP, "image_url", "This field is required."),
    (
        "kling-motion-control",
        "motion_video",
        "rtmp://live.example.com/x",
        "motion_video",
        "Must be an http:// or https:// URL (got 'rtmp://live.example.com/x').",
    ),
    ("kling-motion-control", "motion_video", DROP, "motion_video", "This field is required."),
    ("kling-motion-control", "image", DROP, "image", "This field is required."),
    # image_urls
    ("kling-2-1", "image_urls", IMAGE, "image_urls", "Must be a list of image URLs."),
    (
        "kling-2-1",
        "image_urls",
        [IMAGE, IMAGE, IMAGE],
        "image_urls",
        "Must have at most 2 images (got 3).",
    ),
    (
        "kling-2-1",
        "image_urls",
        [IMAGE, "ftp://example.com/end.png"],
        "image_urls",
        "Image 2: Must be an http:// or https:// URL (got 'ftp://example.com/end.png').",
    ),
    ("kling-2-1", "image_urls", [IMAGE, None], "image_urls", "Image 2: Must be a URL (got None)."),
    # unknown fields, by name
    ("kling/v2-1", "promt", "A fox", "promt", "Unknown field 'promt'. Did you mean 'prompt'?"),
    (
        "kling-v2-6",
        "audio",
        True,
        "audio",
        "Unknown field 'audio'. kling-v2-6 takes prompt, image, mode, duration, aspect_ratio,"
        " sound, voice.",
    ),
    # callback_url travels beside the fields in seed 002 but is no model field.
    (
        "kling-v2-6",
        "callback_url",
        "https://example.com/cb",
        "callback_url",
        "Unknown field 'callback_url'. kling-v2-6 takes prompt, image, mode, duration,"
        " aspect_ratio, sound, voice.",
    ),
]


def errors_of(model, payload) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as failure:
        catalog.validate(model, payload)
    return failure.value.errors


def changed(model, key, value) -> dict:
    payload = dict(BASE[model])
    if value is DROP:
        payload.pop(key, None)
    else:
        payload[key] = value
    return payload


@pytest.mark.parametrize("model", sorted(BASE))
def test_it_accepts_every_base_input(model):
    catalog.validate(model, BASE[model])


@pytest.mark.parametrize(
    ("model", "key", "value", "field", "message"),
    BAD_INPUTS,
    ids=[f"{case[0]}-{case[1]}-{i}" for i, case in enumerate(BAD_INPUTS)],
)
def test_it_rejects_bad_values_with_the_field_and_a_readable_message(
    model, key, value, field, message
):
    assert errors_of(model, changed(model, key, value)) == {field: [message]}


IMAGE_MODES = "standard-image-to-video or pro-image-to-video or master-image-to-video"
IMAGES_REQUIRED = f"Required when mode is {IMAGE_MODES}."
IMAGE_MODES_ONLY = f"Applies only when mode is {IMAGE_MODES}."
END_FRAME_ONLY_IN_PRO = (
    "End frame (image 2) applies only when mode is pro-image-to-video (got 2 images)."
)
RULE_CASES = [
    (
        "kling-v2-6",
        {"prompt": "x", "mode": "pro", "voice": True},
        {"voice": ["Applies only when mode is pro and audio is on (got on)."]},
    ),
    (
        "kling-v2-6",
        {"prompt": "x", "mode": "std", "sound": True},
        {"sound": ["Applies only when mode is pro (got on)."]},
    ),
    (
        "kling-v2-6",
        # Whether voice applies hangs on sound, which is refused: voice is not judged.
        {"prompt": "x", "mode": "std", "sound": True, "voice": True},
        {"sound": ["Applies only when mode is pro (got on)."]},
    ),
    (
        "kling-v2-6",
        {"mode": "std"},
        {"prompt": ["A prompt is needed when no image is given (text-to-video)."]},
    ),
    (
        "kling-v3",
        {"duration": 5},
        {"prompt": ["A prompt is needed when no image is given (text-to-video)."]},
    ),
    (
        "kling-2-1",
        {"mode": "standard-image-to-video", "prompt": "x"},
        {"image_urls": [IMAGES_REQUIRED]},
    ),
    (
        "kling-2-1",
        {"mode": "standard-image-to-video", "prompt": "x", "image_urls": [IMAGE, IMAGE]},
        {"image_urls": [END_FRAME_ONLY_IN_PRO]},
    ),
    (
        "kling-2-1",
        {"mode": "pro-image-to-video", "prompt": "x", "image_urls": []},
        {"image_urls": [IMAGES_REQUIRED]},
    ),
    (
        "kling-2-1",
        {"mode": "master-image-to-video", "prompt": "x", "image_urls": [IMAGE, IMAGE]},
        {"image_urls": [END_FRAME_ONLY_IN_PRO]},
    ),
    (
        "kling-2-1",
        {"mode": "master-text-to-video", "prompt": "x", "image_urls": [IMAGE]},
        {"image_urls": [IMAGE_MODES_ONLY]},
    ),
]


@pytest.mark.parametrize(("model", "payload", "errors"), RULE_CASES)
def test_it_applies_the_cross_field_rules_of_the_spec(model, payload, errors):
    assert errors_of(model, payload) == errors


def test_it_lets_an_image_replace_the_prompt():
    assert catalog.validate("kling-v2-6", {"image": IMAGE})["image"] == IMAGE


def test_it_allows_voice_with_sound_in_pro():
    normalized = catalog.validate(
        "kling-v2-6", {"prompt": "x", "mode": "pro", "sound": True, "voice": True}
    )
    assert (normalized["sound"], normalized["voice"]) == (True, True)


def test_it_skips_rules_about_fields_that_already_failed():
    errors = errors_of("kling-2-1", {"mode": "warp", "prompt": "x", "image_urls": [IMAGE]})
    assert errors == {
        "mode": [
            "Must be one of standard-image-to-video, pro-image-to-video, "
            "master-text-to-video, master-image-to-video (got 'warp')."
        ]
    }


@pytest.mark.parametrize("payload", [None, [], "prompt=x", 5])
def test_it_rejects_input_that_is_not_an_object(payload):
    errors = errors_of("kling/v2-1", payload)
    assert list(errors) == ["input"]
    assert errors["input"][0].startswith("Must be an object of field values (prompt, ")


def test_it_reports_every_bad_field_at_once():
    errors = errors_of("kling-v3", {"promt": "x", "duration": 99, "mode": "max"})
    # prompt too: without an image it is required, and "promt" is not it.
    assert set(errors) == {"promt", "prompt", "duration", "mode"}


def test_it_names_the_closest_models_for_an_unknown_one():
    with pytest.raises(UnknownModel) as failure:
        catalog.validate("kling-v4", {"prompt": "x"})
    message = failure.value.errors["model"][0]
    assert message.startswith("Unknown model 'kling-v4'. Closest: kling-v3")
    assert str(failure.value) == message
    assert isinstance(failure.value, ValidationFailed)


def test_it_lists_the_models_when_nothing_is_close():
    with pytest.raises(UnknownModel) as failure:
        catalog.get_spec("zzzzzz")
    assert "Known models: google/veo-3-1, kling-2-1" in str(failure.value)


@pytest.mark.parametrize("name", [None, 5, ""])
def test_it_refuses_a_model_that_is_not_a_name(name):
    with pytest.raises(UnknownModel):
        catalog.get_spec(name)


# -- normalization -------------------------------------------------------------


def test_it_fills_defaults_in_spec_order():
    assert catalog.validate("kling/v2-1", {"generate_audio": True, "prompt": "x"}) == {
        "prompt": "x",
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "duration": 5,
        "generate_audio": True,
    }
    assert catalog.validate("kling/v2-1-standard", {"prompt": "x", "image_url": IMAGE}) == {
        "prompt": "x",
        "image_url": IMAGE,
        "duration": "5",
        "cfg_scale": 0.5,
    }


@pytest.mark.parametrize(
    ("model", "key", "value", "expected"),
    [
        # A select of "5"/"10" takes 5 and answers "5"; one of 5/8 takes "8".
        ("kling/v2-1-standard", "duration", 10, "10"),
        ("kling/v2-1-standard", "duration", " 10 ", "10"),
        ("google/veo-3-1", "duration", "8", 8),
        ("kling-v2-6", "duration", 10, "10"),
        # A number takes "7" and answers 7 (int when integer).
        ("kling-v3", "duration", "7", 7),
        ("kling-v3", "duration", 7.0, 7),
        ("kling-v3", "duration", "1e1", 10),
        ("kling-2-1", "cfg_scale", "0.3", 0.3),
        ("kling-2-1", "cfg_scale", 0.7, 0.7),
        ("kling-2-1", "cfg_scale", 1, 1.0),
        # Browsers trim URL inputs; so does the API.
        ("kling/v2-1-standard", "image_url", f"  {IMAGE}\n", IMAGE),
    ],
)
def test_it_coerces_values_where_the_seeds_disagree_on_type(model, key, value, expected):
    result = catalog.validate(model, changed(model, key, value))[key]
    assert result == expected
    assert type(result) is type(expected)


def test_it_treats_blank_optional_values_as_not_given():
    normalized = catalog.validate(
        "kling-2-1", {**BASE["kling-2-1"], "negative_prompt": "", "cfg_scale": None}
    )
    assert "negative_prompt" not in normalized
    assert normalized["cfg_scale"] == 0.5


def test_it_counts_a_browser_line_break_once():
    text = "a\r\n" * 2500  # 7500 characters as sent, 5000 once CRLF is one break
    normalized = catalog.validate("kling/v2-1", {"prompt": text})
    assert normalized["prompt"] == "a\n" * 2500


@pytest.mark.parametrize(
    ("name", "model_id"),
    [
        ("kling-video/kling-v2-6", "kling-v2-6"),
        ("kwaivgi/kling-v2.6", "kling-v2-6"),
        ("kling-video/kling-v3", "kling-v3"),
        ("kwaivgi/kling-v3", "kling-v3"),
        ("kling-video/kling-motion-control", "kling-motion-control"),
        ("kwaivgi/kling-motion-control", "kling-motion-control"),
        ("kwaivgi/kling-v2.1", "kling-2-1"),
        ("google/veo-3.1", "google/veo-3-1"),
        ("KLING-V3", "kling-v3"),
        (" kling/v2-1 ", "kling/v2-1"),
    ],
)
def test_it_resolves_aliases(name, model_id):
    assert catalog.get_spec(name).id == model_id


def test_it_lists_every_seed_model_in_a_stable_order():
    ids = [spec.id for spec in catalog.all_specs()]
    assert ids == sorted(ids)
    assert set(ids) == {
        "kling/v2-1",
        "google/veo-3-1",
        "kling/v2-1-standard",
        "kling-v2-6",
        "kling-v3",
        "kling-motion-control",
        "kling-2-1",
    }


def test_it_loads_the_specs_once():
    assert catalog.get_spec("kling-v3") is catalog.get_spec("kwaivgi/kling-v3")
    assert catalog.all_specs()[0] is catalog.all_specs()[0]


def test_it_keeps_every_name_unique():
    names = [name for spec in catalog.all_specs() for name in spec.names]
    assert len(names) == len(set(names))
