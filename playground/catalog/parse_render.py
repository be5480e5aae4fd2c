"""Parsing the `render` block: where the local renderer's parameters come from."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from playground.catalog.errors import SpecError
from playground.catalog.spec import (
    RESOLUTIONS,
    TEXT_TYPES,
    FieldSpec,
    RenderSource,
    RenderSpec,
    map_key,
)
from playground.catalog.specreader import Reader

_ASPECT_RE = re.compile(r"[1-9][0-9]*:[1-9][0-9]*\Z")
_RENDER_REQUIRED = ("duration", "aspect_ratio", "resolution", "audio", "prompt")
_RENDER_OPTIONAL = ("negative_prompt", "motion_video", "seed")
_RENDER_KEYS = {*_RENDER_REQUIRED, *_RENDER_OPTIONAL, "images"}


def _parse_source(file: str, path: str, raw: Any, fields: dict[str, FieldSpec]) -> RenderSource:
    r = Reader(file, path, raw, {"field", "map", "default"})
    name = r.get("field")
    if name is not None and name not in fields:
        r.fail("field", f"no field named '{name}'")
    mapping = r.get("map")
    if mapping is not None:
        if name is None or not isinstance(mapping, dict):
            r.fail("map", "must be an object and needs 'field'")
        field = fields[name]
        if field.type not in ("select", "switch"):
            r.fail("map", "maps the values of a select or switch field")
        values = (False, True) if field.type == "switch" else field.choice_values
        missing = [map_key(v) for v in values if map_key(v) not in mapping]
        if missing:
            r.fail("map", f"has no entry for {', '.join(missing)}")
    if name is None and not r.has("default"):
        r.fail("field", "give a field, a default or both")
    return RenderSource(field=name, map=mapping, default=r.get("default"))


def _outputs(
    source: RenderSource, fields: dict[str, FieldSpec]
) -> tuple[list[Any], FieldSpec | None]:
    """The values a source can produce, and the field whose values cannot be listed."""
    outputs = [] if source.default is None else [source.default]
    if source.field is None:
        return outputs, None
    field = fields[source.field]
    if source.map is not None:
        return outputs + list(source.map.values()), None
    if field.type == "select":
        return outputs + list(field.choice_values), None
    if field.type == "switch":
        return outputs + [False, True], None
    return outputs, field


def _is_seconds(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and Decimal(str(value)) > 0
    except ArithmeticError:
        return False


# For each render parameter: a test of one possible value, and the field
# types whose (unlisted) values are acceptable.
_RENDER_CHECKS: dict[str, tuple[Any, tuple[str, ...], str]] = {
    "duration": (_is_seconds, ("number",), "a positive number of seconds"),
    "aspect_ratio": (
        lambda v: isinstance(v, str) and bool(_ASPECT_RE.match(v)),
        (),
        "an aspect ratio like 16:9",
    ),
    "resolution": (lambda v: v in RESOLUTIONS, (), f"one of {', '.join(RESOLUTIONS)}"),
    "audio": (lambda v: isinstance(v, bool), (), "true or false"),
    "prompt": (lambda v: isinstance(v, str), TEXT_TYPES, "text"),
    "negative_prompt": (lambda v: isinstance(v, str), TEXT_TYPES, "text"),
    "motion_video": (lambda v: isinstance(v, str), ("video_url",), "a video URL"),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), ("number",), "an integer"),
}


def parse_render(file: str, raw: Any, fields: dict[str, FieldSpec]) -> RenderSpec:
    r = Reader(file, "render", raw, _RENDER_KEYS)
    sources: dict[str, RenderSource] = {}
    for key in (*_RENDER_REQUIRED, *_RENDER_OPTIONAL):
        if not r.has(key):
            if key in _RENDER_REQUIRED:
                r.fail(key, "is required")
            continue
        source = _parse_source(file, r.at(key), r.get(key), fields)
        check, field_types, what = _RENDER_CHECKS[key]
        outputs, open_field = _outputs(source, fields)
        for value in outputs:
            if not check(value):
                r.fail(key, f"{value!r} is not {what}")
        if open_field is not None and open_field.type not in field_types:
            r.fail(key, f"field '{open_field.name}' ({open_field.type}) cannot give {what}")
        if key in ("duration", "aspect_ratio", "resolution", "audio") and source.default is None:
            field = fields[source.field]
            if not field.required and field.default is None:
                r.fail(key, f"'{field.name}' may be absent: give a default")
        sources[key] = source
    images = r.strings("images")
    for index, name in enumerate(images):
        if name not in fields or fields[name].type not in ("image_url", "image_urls"):
            raise SpecError(file, f"render.images[{index}]", f"'{name}' is not an image field")
    # Every image and video the client sends must reach the renderer.
    for field in fields.values():
        if field.type in ("image_url", "image_urls") and field.name not in images:
            r.fail("images", f"does not list the image field '{field.name}'")
        if (
            field.type == "video_url"
            and sources.get("motion_video", RenderSource()).field != field.name
        ):
            r.fail("motion_video", f"must come from the video field '{field.name}'")
    return RenderSpec(images=tuple(images), **sources)
