"""ModelSpec.render_params and the descriptors the UI shows, all read from the specs."""

import pytest

from playground import catalog

IMAGE = "https://example.com/media/start.png"
END = "https://example.com/media/end.png"
VIDEO = "https://example.com/media/dance.mp4"

RENDER_KEYS = {
    "duration",
    "aspect_ratio",
    "resolution",
    "audio",
    "prompt",
    "negative_prompt",
    "images",
    "motion_video",
    "seed",
}


def params(model: str, payload: dict) -> dict:
    return catalog.get_spec(model).render_params(catalog.validate(model, payload))


@pytest.mark.parametrize("spec", catalog.all_specs(), ids=lambda spec: spec.id)
def test_it_gives_every_render_parameter_for_every_example(spec):
    for example in spec.examples:
        result = spec.render_params(catalog.validate(spec.id, example.input))
        assert set(result) == RENDER_KEYS
        assert isinstance(result["duration"], float) and result["duration"] > 0
        assert result["resolution"] in ("480p", "720p", "1080p")
        assert isinstance(result["audio"], bool)


def test_it_renders_kling_2_1_with_its_own_fields():
    assert params(
        "kling/v2-1",
        {
            "prompt": "Cliffs",
            "aspect_ratio": "21:9",
            "resolution": "480p",
            "duration": 10,
            "generate_audio": True,
        },
    ) == {
        "duration": 10.0,
        "aspect_ratio": "21:9",
        "resolution": "480p",
        "audio": True,
        "prompt": "Cliffs",
        "negative_prompt": "",
        "images": [],
        "motion_video": None,
        "seed": None,
    }


def test_it_keeps_the_start_image_first_and_the_end_frame_second():
    result = params(
        "kling-2-1",
        {
            "mode": "pro-image-to-video",
            "prompt": "Bloom",
            "image_urls": [IMAGE, END],
            "negative_prompt": "blur",
        },
    )
    assert result["images"] == [IMAGE, END]
    assert result["negative_prompt"] == "blur"
    assert result["resolution"] == "1080p"
    assert result["aspect_ratio"] == "16:9"  # the spec's default: no aspect field


@pytest.mark.parametrize(("mode", "resolution"), [("std", "720p"), ("pro", "1080p")])
def test_it_maps_the_mode_to_a_resolution_as_the_spec_says(mode, resolution):
    assert params("kling-v2-6", {"prompt": "x", "mode": mode})["resolution"] == resolution
    assert params("kling-v3", {"prompt": "x", "mode": mode})["resolution"] == resolution


def test_it_takes_audio_from_the_switch_the_spec_names():
    assert params("kling-v2-6", {"prompt": "x", "mode": "pro", "sound": True})["audio"] is True
    assert params("kling-v3", {"prompt": "x"})["audio"] is False
    # Veo's audio is native: always on, from the render block's default.
    assert params("google/veo-3-1", {"prompt": "x"})["audio"] is True


def test_it_passes_the_motion_video_and_character_image():
    result = params(
        "kling-motion-control",
        {"image": IMAGE, "motion_video": VIDEO, "duration": 30, "resolution": "1080p"},
    )
    assert result["motion_video"] == VIDEO
    assert result["images"] == [IMAGE]
    assert (result["duration"], result["resolution"]) == (30.0, "1080p")


def test_it_reads_a_duration_select_as_seconds():
    assert (
        params("kling/v2-1-standard", {"prompt": "x", "image_url": IMAGE, "duration": "10"})[
            "duration"
        ]
        == 10.0
    )
    assert params("google/veo-3-1", {"prompt": "x", "duration": 8})["duration"] == 8.0


@pytest.mark.parametrize(
    ("model", "kinds", "badges"),
    [
        ("kling/v2-1", ("text-to-video",), ["audio", "up to 10 s"]),
        ("google/veo-3-1", ("text-to-video",), ["audio", "up to 8 s"]),
        ("kling/v2-1-standard", ("image-to-video",), ["up to 10 s"]),
        ("kling-v2-6", ("text-to-video", "image-to-video"), ["audio", "up to 10 s"]),
        ("kling-v3", ("text-to-video", "image-to-video"), ["audio", "up to 15 s"]),
        ("kling-motion-control", ("motion-control",), ["up to 30 s"]),
        ("kling-2-1", ("image-to-video", "text-to-video"), ["end frame", "up to 10 s"]),
    ],
)
def test_it_describes_each_model_for_its_card(model, kinds, badges):
    spec = catalog.get_spec(model)
    assert spec.kinds == kinds
    assert spec.badges == badges
    assert spec.title and spec.vendor and spec.summary
    assert spec.timeout_seconds >= 300
    assert spec.pricing.source
