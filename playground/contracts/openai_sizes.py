"""OpenAI's `size` ("1280x720") and a model's own fields.

No model takes a size. Each takes an aspect ratio and a resolution, as fields
or as constants of its render block, sometimes through another field
(kling-v2-6's resolution follows its `mode`: std is 720p, pro 1080p). The
sizes a model can make are every combination of those values, measured with
the local renderer's `frame_size`: the arithmetic that sizes the files the
renderer writes, so a size asked for is the size delivered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from playground.catalog import ModelSpec
from playground.catalog.spec import RenderSource, map_key
from playground.providers.localrender import RenderError, frame_size

SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


class SizeError(ValueError):
    """The size cannot be made by this model; the message says which sizes can."""


@dataclass(frozen=True)
class SizeOption:
    """One size and a model input that makes it, e.g. 1280x720 ← {"mode": "std"}."""

    width: int
    height: int
    fields: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}"


def _settings(spec: ModelSpec, source: RenderSource) -> list[tuple[dict[str, Any], str]]:
    """(model input, the render value it gives) for every value a render source can take."""
    if source.field is None:
        return [({}, str(source.default))]
    field = spec.field(source.field)
    if field.type != "select":
        return []  # a free value (a number) cannot be enumerated into sizes
    settings = []
    for value in field.choice_values:
        rendered = source.map.get(map_key(value)) if source.map is not None else value
        if rendered is not None:
            settings.append(({field.name: value}, str(rendered)))
    return settings


@lru_cache(maxsize=64)
def options(spec: ModelSpec) -> tuple[SizeOption, ...]:
    """Every (size, input) the model can make: by resolution, then in its aspect ratio order."""
    found = []
    for res_input, resolution in _settings(spec, spec.render.resolution):
        for ratio_input, ratio in _settings(spec, spec.render.aspect_ratio):
            shared = res_input.keys() & ratio_input.keys()
            if any(res_input[name] != ratio_input[name] for name in shared):
                continue  # one field can't hold two values
            try:
                width, height = frame_size(ratio, resolution)
            except RenderError:
                continue
            found.append(SizeOption(width, height, tuple({**ratio_input, **res_input}.items())))
    return tuple(found)


def labels(choices) -> list[str]:
    return list(dict.fromkeys(option.label for option in choices))


def sizes(spec: ModelSpec) -> list[str]:
    """The sizes the model can make, e.g. ["1280x720", "720x1280", ...]."""
    return labels(options(spec))


def _listed(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def _matches(given: Any, value: Any) -> bool:
    # Before validation "5" and 5 name the same choice, as the validator agrees.
    return str(given).strip() == str(value)


def fields_for_size(spec: ModelSpec, size: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The model fields to add to `given` (the request's own fields) to make `size`.

    Fields the request sets itself are kept, and must agree with the size.
    Where several inputs make the size (kling-2-1's three 1080p modes) only
    what they share is set, or the model's defaults when they are among
    them; the validator then asks for what is still missing.
    """
    made = sizes(spec)
    if not made:
        raise SizeError(
            f"{spec.id} takes no size: set its own fields ({', '.join(spec.field_names)})."
        )
    match = SIZE_RE.match(size) if isinstance(size, str) else None
    if match is None:
        raise SizeError(
            f"size must be WIDTHxHEIGHT, e.g. {made[0]} (got {size!r}); "
            f"{spec.id} makes {_listed(made)}."
        )
    width, height = int(match.group(1)), int(match.group(2))
    label = f"{width}x{height}"
    candidates = [o for o in options(spec) if (o.width, o.height) == (width, height)]
    if not candidates:
        raise SizeError(f"{spec.id} cannot make {label}; it makes {_listed(made)}.")
    fitting = [
        option
        for option in candidates
        if all(_matches(given[name], value) for name, value in option.fields if name in given)
    ]
    if not fitting:
        names = sorted({name for option in candidates for name, _ in option.fields} & set(given))
        setting = ", ".join(f"{name}={given[name]}" for name in names)
        possible = labels(
            option
            for option in options(spec)
            if all(_matches(given[name], value) for name, value in option.fields if name in given)
        )
        makes = f"only {_listed(possible)}" if possible else "no size"
        raise SizeError(f"With {setting}, {spec.id} makes {makes}, not {label}.")
    if len(fitting) == 1:
        chosen = dict(fitting[0].fields)
    else:
        defaults = [
            option for option in fitting if all(_is_default(spec, *f) for f in option.fields)
        ]
        if defaults:
            chosen = dict(defaults[0].fields)
        else:
            shared = set.intersection(*(set(option.fields) for option in fitting))
            chosen = dict(shared)
    return {name: value for name, value in chosen.items() if name not in given}


def _is_default(spec: ModelSpec, name: str, value: Any) -> bool:
    return spec.field(name).default == value


def size_of(spec: ModelSpec, normalized: dict[str, Any]) -> str:
    """The size a validated input makes, e.g. "1280x720"; "" when it can't be told."""
    params = spec.render_params(normalized)
    try:
        width, height = frame_size(params["aspect_ratio"], params["resolution"])
    except RenderError:
        return ""
    return f"{width}x{height}"
