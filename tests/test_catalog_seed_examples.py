"""Every example payload the seed pages print validates and costs what its page says."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from playground import catalog

FIXTURES = Path(__file__).parent / "fixtures" / "seed_examples"

# fixture file -> (model when the body does not name it, credits, breakdown)
CASES = {
    # Seed 000: "Kling 2.1 — 55 credits / job".
    "000_kling-v2-1.json": (None, "55.00", "per job = 55.00 credits"),
    # Seed 001: "Veo 3.1 — 60 credits / job".
    "001_veo-3-1.json": (None, "60.00", "per job = 60.00 credits"),
    # Seed 002's curl body is std, 5 s, no audio: the $0.0159 row.
    "002_kling-v2-6.json": (None, "1.59", "std · 5 s = 1.59 credits"),
    # Seed 003 states no price; the spec's 5 s price.
    "003_kling-v2-1-standard.json": (None, "25.00", "5 s = 25.00 credits"),
    # Seed 004 prints no example; these are one per mode, on its generateTask
    # path /api/v1/generateTask/kling-2-1.
    "004_kling-2-1_standard-image-to-video.json": (
        "kling-2-1",
        "25.00",
        "standard-image-to-video · 5 s = 25.00 credits",
    ),
    "004_kling-2-1_pro-image-to-video.json": (
        "kling-2-1",
        "100.00",
        "pro-image-to-video · 10 s = 100.00 credits",
    ),
    "004_kling-2-1_master-text-to-video.json": (
        "kling-2-1",
        "160.00",
        "master-text-to-video · 5 s = 160.00 credits",
    ),
    "004_kling-2-1_master-image-to-video.json": (
        "kling-2-1",
        "160.00",
        "master-image-to-video · 5 s = 160.00 credits",
    ),
}

# Request keys of the contracts that are not model input.
ENVELOPE_KEYS = {"model", "callBackUrl", "callback_url", "request_type", "provider"}


def model_and_input(name: str) -> tuple[str, dict]:
    body = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    model = body.get("model") or CASES[name][0]
    if "input" in body:  # jobs (000, 001, 003) and generateTask (004) contracts
        return model, body["input"]
    # Seed 002's video generations contract sends the fields flat.
    return model, {key: value for key, value in body.items() if key not in ENVELOPE_KEYS}


@pytest.fixture(autouse=True)
def seed_credit_value(settings):
    settings.CREDIT_USD = Decimal("0.01")


def test_it_has_a_case_for_every_fixture_file():
    assert sorted(path.name for path in FIXTURES.glob("*.json")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_it_validates_and_prices_every_seed_example(name):
    model, payload = model_and_input(name)
    normalized = catalog.validate(model, payload)
    quote = catalog.quote(model, normalized)
    assert quote.credits == Decimal(CASES[name][1])
    assert quote.breakdown == CASES[name][2]


@pytest.mark.parametrize("name", sorted(CASES))
def test_it_keeps_every_value_the_seed_sent(name):
    model, payload = model_and_input(name)
    normalized = catalog.validate(model, payload)
    assert {key: normalized[key] for key in payload} == payload


@pytest.mark.parametrize("name", sorted(CASES))
def test_it_embeds_every_seed_example_in_its_spec(name):
    # The OpenAPI document takes its examples from the specs: they must not
    # drift from what the seeds print.
    model, payload = model_and_input(name)
    spec = catalog.get_spec(model)
    assert payload in [example.input for example in spec.examples]


def test_it_resolves_the_model_name_seed_002_answers_with():
    # Seed 002 responds with "model": "kling-video/kling-v2-6".
    _, payload = model_and_input("002_kling-v2-6.json")
    assert catalog.validate("kling-video/kling-v2-6", payload) == catalog.validate(
        "kling-v2-6", payload
    )
