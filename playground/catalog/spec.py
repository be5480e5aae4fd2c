"""The parsed form of a model spec: plain frozen dataclasses, built by loader.py.

A ModelSpec carries what the engine and the UI ask of a model besides
validation and price: its descriptors (title, kinds, badges) and
`render_params`, the model-independent parameters of the local renderer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from playground.catalog.credits import lowest_price

# The closed set of field types; loader.py documents each one's attributes.
FIELD_TYPES = (
    "textarea",
    "text",
    "select",
    "number",
    "switch",
    "image_url",
    "image_urls",
    "video_url",
)
TEXT_TYPES = ("textarea", "text")
URL_TYPES = ("image_url", "video_url")
KINDS = ("text-to-video", "image-to-video", "motion-control")
RESOLUTIONS = ("480p", "720p", "1080p")
# URLs longer than this are refused: no storage or upstream takes more.
MAX_URL_LENGTH = 2048

Value = str | int | float | bool | list[str]


@dataclass(frozen=True)
class Choice:
    value: str | int
    label: str


@dataclass(frozen=True, eq=False)
class FieldSpec:
    name: str
    type: str
    label: str
    help: str = ""
    required: bool = False
    # Already normalized (what validate() would return for it), or None.
    default: Value | None = None
    max_length: int | None = None
    choices: tuple[Choice, ...] = ()
    min: Decimal | None = None
    max: Decimal | None = None
    step: Decimal | None = None
    integer: bool = False
    unit: str = ""
    min_items: int | None = None
    max_items: int | None = None
    accept: tuple[str, ...] = ()
    max_bytes: int | None = None
    # When every condition holds the field applies; otherwise it takes no
    # value but its default (rules.py: applies_error). Empty: always applies.
    applies_when: tuple[Condition, ...] = ()
    # image_urls only: one labelled slot per image, in order (start frame,
    # end frame), each with its own applies_when.
    items: tuple[ItemSpec, ...] = ()

    @property
    def depends_on(self) -> set[str]:
        """The fields whose values say whether this field (or one of its items) applies."""
        names = {condition.field for condition in self.applies_when}
        for item in self.items:
            names |= {condition.field for condition in item.applies_when}
        return names

    @property
    def choice_values(self) -> tuple[str | int, ...]:
        return tuple(choice.value for choice in self.choices)

    def display(self, value: Any) -> str:
        """A value as a person reads it: "10 s", "720p", "on"."""
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, float):
            text = format(Decimal(repr(value)).normalize(), "f")
        else:
            text = str(value)
        return f"{text} {self.unit}" if self.unit else text


@dataclass(frozen=True)
class Condition:
    """One test of a `when`: the field holds one of `values`, or is (not) present."""

    field: str
    values: tuple[Any, ...] | None = None
    present: bool | None = None

    def describe(self, spec_field: FieldSpec) -> str:
        if self.present is not None:
            return f"{spec_field.label.lower()} is {'given' if self.present else 'not given'}"
        shown = " or ".join(spec_field.display(value) for value in self.values or ())
        return f"{spec_field.label.lower()} is {shown}"


@dataclass(frozen=True)
class ItemSpec:
    """One position of an image_urls list ("End frame"), and when it applies."""

    label: str
    applies_when: tuple[Condition, ...] = ()


@dataclass(frozen=True, eq=False)
class Rule:
    """When every condition holds, `field` must meet the constraints."""

    when: tuple[Condition, ...]
    field: str
    required: bool = False
    forbidden: bool = False
    one_of: tuple[Any, ...] | None = None
    min_items: int | None = None
    max_items: int | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    message: str = ""

    @property
    def fields(self) -> set[str]:
        return {self.field} | {condition.field for condition in self.when}


@dataclass(frozen=True, eq=False)
class PriceRow:
    when: tuple[Condition, ...]
    price: Decimal


@dataclass(frozen=True, eq=False)
class Pricing:
    currency: str  # "credits" or "usd"
    per: str  # "job" or "second"
    rows: tuple[PriceRow, ...]
    by: tuple[str, ...] = ()
    seconds_field: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True, eq=False)
class RenderSource:
    """Where one render parameter comes from: a field (optionally mapped) or a constant."""

    field: str | None = None
    map: dict[str, Any] | None = None
    default: Any = None

    def resolve(self, normalized: dict[str, Any]) -> Any:
        if self.field is None or self.field not in normalized:
            return self.default
        value = normalized[self.field]
        if self.map is not None:
            return self.map[map_key(value)]
        return value


def map_key(value: Any) -> str:
    """JSON object keys are strings: true/false and 5 are looked up as "true" and "5"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, eq=False)
class RenderSpec:
    duration: RenderSource
    aspect_ratio: RenderSource
    resolution: RenderSource
    audio: RenderSource
    prompt: RenderSource
    negative_prompt: RenderSource = RenderSource(default="")
    motion_video: RenderSource = RenderSource()
    seed: RenderSource = RenderSource()
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    summary: str
    source: str
    input: dict[str, Any]


@dataclass(frozen=True, eq=False)
class ModelSpec:
    id: str
    aliases: tuple[str, ...]
    title: str
    vendor: str
    summary: str
    kind: str
    also: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    rules: tuple[Rule, ...]
    pricing: Pricing
    timeout_seconds: int
    render: RenderSpec
    examples: tuple[Example, ...] = ()
    notes: tuple[str, ...] = ()
    source_file: Path | None = None
    # sha256 of the spec file's bytes, set by the loader from the bytes it parsed.
    content_hash: str = ""

    def field(self, name: str) -> FieldSpec:
        for spec_field in self.fields:
            if spec_field.name == name:
                return spec_field
        raise KeyError(name)

    @property
    def version(self) -> str:
        """The model version Replicate-style clients see: any edit to the spec file
        (a field, a rule, a price) makes a new one."""
        return self.content_hash or hashlib.sha256(repr(self).encode()).hexdigest()

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec_field.name for spec_field in self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        """The id and every alias: the names a client may use."""
        return (self.id, *self.aliases)

    @property
    def kinds(self) -> tuple[str, ...]:
        return (self.kind, *self.also)

    # -- the local renderer ------------------------------------------------

    def render_params(self, normalized: dict[str, Any]) -> dict[str, Any]:
        """The renderer's parameters for validate()'s output, as the render block says."""
        render = self.render
        images: list[str] = []
        for name in render.images:
            value = normalized.get(name)
            if isinstance(value, list):
                images.extend(value)
            elif value:
                images.append(value)
        seed = render.seed.resolve(normalized)
        return {
            "duration": float(render.duration.resolve(normalized)),
            "aspect_ratio": str(render.aspect_ratio.resolve(normalized)),
            "resolution": str(render.resolution.resolve(normalized)),
            "audio": bool(render.audio.resolve(normalized)),
            "prompt": render.prompt.resolve(normalized) or "",
            "negative_prompt": render.negative_prompt.resolve(normalized) or "",
            "images": images,
            "motion_video": render.motion_video.resolve(normalized) or None,
            "seed": int(seed) if seed is not None else None,
        }

    # -- descriptors for cards and the playground ---------------------------

    @property
    def price_from(self) -> Decimal:
        """The lowest price any valid input can have, in credits (for "from N credits")."""
        return lowest_price(self)

    @property
    def max_seconds(self) -> int:
        source = self.render.duration
        if source.field is None:
            return int(Decimal(str(source.default)))
        spec_field = self.field(source.field)
        if spec_field.type == "number" and spec_field.max is not None:
            return int(spec_field.max)
        return max(int(Decimal(str(value))) for value in spec_field.choice_values)

    @property
    def has_audio(self) -> bool:
        source = self.render.audio
        return bool(source.default) or source.field is not None

    @property
    def max_images(self) -> int:
        total = 0
        for name in self.render.images:
            spec_field = self.field(name)
            total += (spec_field.max_items or 0) if spec_field.type == "image_urls" else 1
        return total

    @property
    def badges(self) -> list[str]:
        """Short labels for model cards, derived from the spec rather than declared twice."""
        badges = []
        if self.has_audio:
            badges.append("audio")
        if self.max_images >= 2:
            badges.append("end frame")
        badges.append(f"up to {self.max_seconds} s")
        return badges
