"""Prices: seed 002's three USD tables row by row, credit prices, CREDIT_USD, breakdowns."""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from playground import catalog
from playground.catalog import ValidationFailed

IMAGE = "https://example.com/media/character.png"
VIDEO = "https://example.com/media/dance.mp4"
CREDIT_VALUES = [Decimal("0.01"), Decimal("0.0125")]

# Seed 002, Kling V2.6: mode, duration, audio, voice -> USD per job.
KLING_V2_6 = [
    ("std", "5", False, False, "0.0159", "std · 5 s"),
    ("std", "10", False, False, "0.0320", "std · 10 s"),
    ("pro", "5", False, False, "0.0267", "pro · 5 s"),
    ("pro", "10", False, False, "0.0531", "pro · 10 s"),
    ("pro", "5", True, False, "0.0531", "pro · 5 s · audio"),
    ("pro", "10", True, False, "0.1064", "pro · 10 s · audio"),
    ("pro", "5", True, True, "0.0639", "pro · 5 s · audio · voice"),
    ("pro", "10", True, True, "0.1275", "pro · 10 s · audio · voice"),
]
# Seed 002, Kling V3: mode, audio -> USD per second, 3-15 s.
KLING_V3 = [
    ("std", False, "0.0633", "std"),
    ("std", True, "0.0956", "std · audio"),
    ("pro", False, "0.0853", "pro"),
    ("pro", True, "0.1280", "pro · audio"),
]
# Seed 002, Kling Motion Control: version, resolution -> USD per second, up to 30 s.
MOTION_CONTROL = [
    ("2.6", "720p", "0.06", "Kling 2.6 · 720p"),
    ("2.6", "1080p", "0.10", "Kling 2.6 · 1080p"),
    ("3.0", "720p", "0.12", "Kling 3.0 · 720p"),
    ("3.0", "1080p", "0.15", "Kling 3.0 · 1080p"),
]


def expected(usd: str, credit_usd: Decimal, seconds: int = 1) -> Decimal:
    return (Decimal(usd) * seconds / credit_usd).quantize(Decimal("0.01"), ROUND_HALF_UP)


def priced(model: str, payload: dict) -> catalog.Quote:
    return catalog.quote(model, catalog.validate(model, payload))


@pytest.mark.parametrize("credit_usd", CREDIT_VALUES)
@pytest.mark.parametrize(("mode", "duration", "sound", "voice", "usd", "labels"), KLING_V2_6)
def test_it_prices_every_kling_v2_6_row(
    settings, credit_usd, mode, duration, sound, voice, usd, labels
):
    settings.CREDIT_USD = credit_usd
    quote = priced(
        "kling-v2-6",
        {"prompt": "x", "mode": mode, "duration": duration, "sound": sound, "voice": voice},
    )
    assert quote.credits == expected(usd, credit_usd)
    assert quote.breakdown == f"{labels} = {quote.credits} credits"


@pytest.mark.parametrize("credit_usd", CREDIT_VALUES)
@pytest.mark.parametrize("seconds", [3, 7, 15])
@pytest.mark.parametrize(("mode", "sound", "usd", "labels"), KLING_V3)
def test_it_prices_every_kling_v3_row_per_second(
    settings, credit_usd, seconds, mode, sound, usd, labels
):
    settings.CREDIT_USD = credit_usd
    quote = priced("kling-v3", {"prompt": "x", "mode": mode, "sound": sound, "duration": seconds})
    assert quote.credits == expected(usd, credit_usd, seconds)
    assert quote.breakdown.startswith(f"{labels} · {seconds} s × ")
    assert quote.breakdown.endswith(f" credits/s = {quote.credits} credits")


@pytest.mark.parametrize("credit_usd", CREDIT_VALUES)
@pytest.mark.parametrize("seconds", [3, 10, 30])
@pytest.mark.parametrize(("version", "resolution", "usd", "labels"), MOTION_CONTROL)
def test_it_prices_every_motion_control_row_per_second(
    settings, credit_usd, seconds, version, resolution, usd, labels
):
    settings.CREDIT_USD = credit_usd
    quote = priced(
        "kling-motion-control",
        {
            "image": IMAGE,
            "motion_video": VIDEO,
            "duration": seconds,
            "version": version,
            "resolution": resolution,
        },
    )
    assert quote.credits == expected(usd, credit_usd, seconds)
    assert quote.breakdown.startswith(f"{labels} · {seconds} s × ")


@pytest.mark.parametrize(
    ("model", "payload", "credits", "breakdown"),
    [
        ("kling/v2-1", {"prompt": "x"}, "55.00", "per job = 55.00 credits"),
        ("google/veo-3-1", {"prompt": "x", "duration": 8}, "60.00", "per job = 60.00 credits"),
        (
            "kling-v2-6",
            {"prompt": "x", "mode": "pro", "duration": 10, "sound": True, "voice": True},
            "12.75",
            "pro · 10 s · audio · voice = 12.75 credits",
        ),
        (
            "kling-v3",
            {"prompt": "x", "duration": 7},
            "44.31",
            "std · 7 s × 6.33 credits/s = 44.31 credits",
        ),
        (
            "kling-motion-control",
            {
                "image": IMAGE,
                "motion_video": VIDEO,
                "duration": 30,
                "version": "3.0",
                "resolution": "1080p",
            },
            "450.00",
            "Kling 3.0 · 1080p · 30 s × 15.00 credits/s = 450.00 credits",
        ),
        (
            "kling/v2-1-standard",
            {"prompt": "x", "image_url": IMAGE, "duration": "10"},
            "50.00",
            "10 s = 50.00 credits",
        ),
        (
            "kling-2-1",
            {"mode": "master-text-to-video", "prompt": "x", "duration": 10},
            "320.00",
            "master-text-to-video · 10 s = 320.00 credits",
        ),
    ],
)
def test_it_explains_each_price(settings, model, payload, credits, breakdown):
    settings.CREDIT_USD = Decimal("0.01")
    quote = priced(model, payload)
    assert quote.credits == Decimal(credits)
    assert quote.breakdown == breakdown


def test_it_reads_credit_usd_at_quote_time(settings):
    normalized = catalog.validate("kling-v3", {"prompt": "x", "duration": 10})
    settings.CREDIT_USD = Decimal("0.01")
    assert catalog.quote("kling-v3", normalized).credits == Decimal("63.30")
    settings.CREDIT_USD = Decimal("0.02")
    assert catalog.quote("kling-v3", normalized).credits == Decimal("31.65")


def test_it_leaves_credit_prices_alone_when_credit_usd_changes(settings):
    settings.CREDIT_USD = Decimal("0.05")
    assert priced("kling/v2-1", {"prompt": "x"}).credits == Decimal("55.00")


def test_it_rounds_half_up_once_and_shows_an_inexact_rate(settings):
    # 7 s × $0.0633 / $0.99 = 0.44757... credits; the rate is 0.063939... credits/s.
    settings.CREDIT_USD = Decimal("0.99")
    quote = priced("kling-v3", {"prompt": "x", "duration": 7})
    assert quote.credits == Decimal("0.45")
    assert quote.breakdown == "std · 7 s × ≈0.0639 credits/s = 0.45 credits"


def test_it_accepts_a_credit_usd_given_as_text(settings):
    settings.CREDIT_USD = "0.01"
    assert priced("kling-v2-6", {"prompt": "x"}).credits == Decimal("1.59")


def test_it_never_hands_out_floats(settings):
    settings.CREDIT_USD = Decimal("0.01")
    for spec in catalog.all_specs():
        for example in spec.examples:
            quote = catalog.quote(spec.id, catalog.validate(spec.id, example.input))
            assert isinstance(quote.credits, Decimal)
            assert quote.credits.as_tuple().exponent == -2
        assert isinstance(spec.price_from, Decimal)


@pytest.mark.parametrize(
    ("model", "price_from"),
    [
        ("kling/v2-1", "55.00"),
        ("google/veo-3-1", "60.00"),
        ("kling/v2-1-standard", "25.00"),
        ("kling-v2-6", "1.59"),
        ("kling-v3", "18.99"),  # 3 s × 6.33
        ("kling-motion-control", "18.00"),  # 3 s × 6.00
        ("kling-2-1", "25.00"),
    ],
)
def test_it_knows_the_lowest_price_of_each_model(settings, model, price_from):
    settings.CREDIT_USD = Decimal("0.01")
    assert catalog.get_spec(model).price_from == Decimal(price_from)


def test_it_moves_the_lowest_price_with_credit_usd(settings):
    settings.CREDIT_USD = Decimal("0.02")
    assert catalog.get_spec("kling-v2-6").price_from == Decimal("0.80")  # 0.795 half up


def test_it_refuses_to_price_what_the_table_has_no_row_for():
    # validate() forbids sound in std (seed 002 prices no such job); an input
    # that skipped it still gets no invented price.
    with pytest.raises(ValidationFailed) as failure:
        catalog.quote("kling-v2-6", {"mode": "std", "duration": "5", "sound": True, "voice": False})
    assert "No price for kling-v2-6" in failure.value.errors["input"][0]
