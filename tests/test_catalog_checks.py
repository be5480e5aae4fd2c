"""A malformed spec fails `manage.py check` with the file and the field named."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from playground import catalog
from playground.catalog.checks import check_catalog
from playground.catalog.loader import DEFAULT_SPECS_DIR, load_catalog


@pytest.fixture
def spec_dir(tmp_path: Path, settings) -> Path:
    """A copy of the bundled specs that the loader and the check read instead."""
    for path in DEFAULT_SPECS_DIR.glob("*.json"):
        shutil.copy(path, tmp_path)
    settings.CATALOG_SPECS_DIR = tmp_path
    return tmp_path


def edit(directory: Path, name: str, change: Callable[[dict], None]) -> None:
    path = directory / name
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def field(data: dict, name: str) -> dict:
    return next(item for item in data["fields"] if item["name"] == name)


MALFORMED = [
    (
        "kling-v3.json",
        lambda d: field(d, "duration").pop("max"),
        "fields.duration.max",
        "is required",
    ),
    (
        "kling__v2-1.json",
        lambda d: field(d, "duration").update(type="slider"),
        "fields.duration.type",
        "must be one of textarea, text, select",
    ),
    (
        "kling__v2-1-standard.json",
        lambda d: field(d, "prompt").update(max_lenght=10),
        "fields.prompt.max_lenght",
        "unknown key (did you mean 'max_length'?)",
    ),
    (
        "kling__v2-1-standard.json",
        lambda d: field(d, "negative_prompt").pop("max_length"),
        "fields.negative_prompt.max_length",
        "is required",
    ),
    (
        "kling-2-1.json",
        lambda d: field(d, "cfg_scale").update(default=1.5),
        "fields.cfg_scale.default",
        "Must be at most 1 (got 1.5).",
    ),
    (
        "google__veo-3-1.json",
        lambda d: field(d, "aspect_ratio").update(default="2:1"),
        "fields.aspect_ratio.default",
        "Must be one of 16:9",
    ),
    (
        "kling-2-1.json",
        lambda d: field(d, "cfg_scale").update(min=0.05),
        "fields.cfg_scale.min",
        "must be a multiple of step",
    ),
    (
        "kling-v2-6.json",
        lambda d: d["rules"][0].update(field="promt"),
        "rules[0].field",
        "no field named 'promt'",
    ),
    (
        "kling-v3.json",
        lambda d: d["rules"][0].update(when={"image": {"given": False}}),
        "rules[0].when.image.given",
        "unknown key",
    ),
    (
        "kling-2-1.json",
        lambda d: field(d, "image_urls").update(applies_when={"mode": "standard"}),
        "fields.image_urls.applies_when.mode",
        "Must be one of standard-image-to-video",
    ),
    (
        "kling-v2-6.json",
        lambda d: field(d, "sound").update(applies_when={"moed": "pro"}),
        "fields.sound.applies_when.moed",
        "no field named 'moed'",
    ),
    (
        "kling-v2-6.json",
        lambda d: field(d, "sound").update(applies_when={}),
        "fields.sound.applies_when",
        "must be a non-empty object of field: value",
    ),
    (
        "kling-v2-6.json",
        lambda d: field(d, "sound").update(applies_when={"sound": True}),
        "fields.sound.applies_when.sound",
        "a field cannot depend on itself",
    ),
    (
        "kling-v2-6.json",
        lambda d: field(d, "mode").update(applies_when={"sound": True}),
        "fields.mode.applies_when",
        "depends on itself (mode → sound → mode)",
    ),
    (
        "kling-2-1.json",
        lambda d: field(d, "image_urls").update(items=[{"label": "Start frame"}]),
        "fields.image_urls.items",
        "must list one item per image (2)",
    ),
    (
        "kling-2-1.json",
        lambda d: field(d, "image_urls")["items"][0].update(applies_when={"duration": "5"}),
        "fields.image_urls.items[0].applies_when",
        "the first image applies with the field itself",
    ),
    (
        "kling-2-1.json",
        lambda d: field(d, "image_urls")["items"][1].update(when={"mode": "pro-image-to-video"}),
        "fields.image_urls.items[1].when",
        "unknown key; allowed: applies_when, label",
    ),
    (
        "kling-2-1.json",
        lambda d: field(d, "prompt").update(items=[{"label": "Prompt"}]),
        "fields.prompt.items",
        "unknown key",
    ),
    (
        # Sound applying in std too: seed 002's table has no price for it.
        "kling-v2-6.json",
        lambda d: field(d, "sound").pop("applies_when"),
        "pricing.rows",
        "no row prices mode=std, duration=5, sound=true, voice=false",
    ),
    (
        "kling-v2-6.json",
        lambda d: d["pricing"]["rows"].pop(),
        "pricing.rows",
        "no row prices mode=pro, duration=10, sound=true, voice=true",
    ),
    (
        "kling-v2-6.json",
        lambda d: d["pricing"]["rows"].append(
            {"when": {"mode": "std", "duration": "5", "sound": True, "voice": False}, "price": "1"}
        ),
        "pricing.rows[8]",
        "prices no input the rules allow",
    ),
    (
        "kling-v3.json",
        lambda d: d["pricing"]["rows"][0].update(price="cheap"),
        "pricing.rows[0].price",
        "'cheap' is not a decimal number",
    ),
    (
        "kling-motion-control.json",
        lambda d: d["pricing"].pop("source"),
        "pricing.source",
        "is required",
    ),
    (
        "kling-motion-control.json",
        lambda d: d["render"]["aspect_ratio"].update(default="wide"),
        "render.aspect_ratio",
        "'wide' is not an aspect ratio like 16:9",
    ),
    (
        "kling-2-1.json",
        lambda d: d["render"].update(images=[]),
        "render.images",
        "does not list the image field 'image_urls'",
    ),
    (
        "google__veo-3-1.json",
        lambda d: d["examples"][0]["input"].update(duration=7),
        "examples[0].input.duration",
        "Must be one of 5, 8 (got 7).",
    ),
    (
        "kling-motion-control.json",
        lambda d: d["aliases"].append("kwaivgi/kling-v3"),
        "aliases[1]",
        "'kwaivgi/kling-v3' is already a name of kling-motion-control",
    ),
    ("kling-v3.json", lambda d: d.update(timeout_seconds=0), "timeout_seconds", "at least 1"),
]


def cases():
    for name, change, field_path, message in MALFORMED:
        yield pytest.param(name, change, field_path, message, id=f"{name}:{field_path}")


def test_it_passes_the_bundled_specs():
    assert check_catalog() == []


@pytest.mark.parametrize(("name", "change", "field_path", "message"), list(cases()))
def test_it_names_the_file_and_the_field(spec_dir, name, change, field_path, message):
    edit(spec_dir, name, change)
    errors = check_catalog()
    assert len(errors) == 1
    error = errors[0]
    # A duplicate alias is reported on the second file that claims it.
    expected_file = "kling-v3.json" if "already a name" in message else name
    assert error.obj == expected_file
    assert error.msg.startswith(f"{field_path}: ")
    assert message in error.msg
    assert error.id == "catalog.E001"


def test_it_fails_manage_py_check(spec_dir):
    edit(spec_dir, "kling-v3.json", lambda d: field(d, "duration").update(max="fifteen"))
    with pytest.raises(SystemCheckError) as failure:
        call_command("check")
    assert "kling-v3.json: (catalog.E001) fields.duration.max: must be a number" in str(
        failure.value
    )


def test_it_reports_json_syntax_errors_with_the_line(spec_dir):
    (spec_dir / "kling-v3.json").write_text('{\n  "id": "kling-v3",\n  oops\n}')
    [error] = check_catalog()
    assert error.obj == "kling-v3.json"
    assert error.msg.startswith("line 3: not valid JSON")


def test_it_reports_every_broken_file(spec_dir):
    edit(spec_dir, "kling-v3.json", lambda d: d.pop("kind"))
    edit(spec_dir, "kling-2-1.json", lambda d: d.update(colour="red"))
    assert sorted(error.obj for error in check_catalog()) == ["kling-2-1.json", "kling-v3.json"]


def test_it_wants_each_file_named_after_its_model(spec_dir):
    (spec_dir / "kling-v3.json").rename(spec_dir / "kling-v3-copy.json")
    [error] = check_catalog()
    assert (error.obj, error.msg) == (
        "kling-v3-copy.json",
        "id: 'kling-v3' belongs in kling-v3.json",
    )


def test_it_refuses_to_serve_a_malformed_catalog(spec_dir):
    edit(spec_dir, "kling-v3.json", lambda d: d.update(kind="audio"))
    with pytest.raises(catalog.SpecErrors) as failure:
        catalog.get_spec("kling-v3")
    assert "kling-v3.json: kind: must be one of text-to-video" in str(failure.value)


def test_it_serves_specs_from_the_configured_directory(spec_dir):
    edit(spec_dir, "kling-v3.json", lambda d: d.update(title="Kling V3 (staging)"))
    assert catalog.get_spec("kling-v3").title == "Kling V3 (staging)"


def test_it_refuses_an_empty_directory(tmp_path):
    with pytest.raises(catalog.SpecErrors) as failure:
        load_catalog(tmp_path)
    assert "holds no *.json model specs" in str(failure.value)
