"""Reading model specs: one JSON file per model in `specs/`, checked on load.

A spec file is an object with these keys (unknown keys are errors, so a typo
never passes silently):

    id               the model id clients send ("kling-v2-6", "kling/v2-1");
                     the file is named after it, "/" written as "__"
    aliases          other names that resolve to it (dialects, Replicate owner/name)
    title, vendor, summary
    kind             text-to-video | image-to-video | motion-control
    also             further kinds the model does (["image-to-video"] for a
                     text-to-video model that takes an optional start image)
    fields           ordered list of input fields (below)
    rules            cross-field rules (rules.py describes the language)
    pricing          how an input is priced (pricing.py)
    timeout_seconds  the generation deadline the engine enforces
    render           where the local renderer's parameters come from (below)
    examples         [{summary, source, input}]: the seeds' example inputs;
                     each must validate, and OpenAPI embeds them
    notes            where unstated limits and prices come from

Field types — a closed set; each takes name, type, label, help, required and
default, plus:

    textarea, text   max_length (required: every text is bounded)
    every type       applies_when: conditions as in rules' `when`; when they
                     do not hold, the field takes no value but its default
                     (the form hides it, the validator refuses a value, the
                     JSON Schema says so in an if/then)
    select           choices: values (all strings or all integers) or
                     {value, label}; unit ("s") for display
    number           min and max (required), step (a multiple of it counted
                     from min, as browsers do), integer, unit
    switch           (default false)
    image_url        one http(s) URL; accept (MIME types), max_bytes
    image_urls       a list of http(s) URLs; min_items, max_items (required),
                     accept, max_bytes; items: one {label, applies_when} per
                     image in order ("Start frame", "End frame"): the form
                     shows one input per item, and an image whose item does
                     not apply is refused
    video_url        one http(s) URL; accept, max_bytes

accept and max_bytes describe what the engine enforces when it fetches the
file; the validator checks URL syntax and scheme only.

The render block maps the renderer's parameters to sources: duration,
aspect_ratio, resolution, audio and prompt are required; negative_prompt,
motion_video and seed are optional; each is {"field": name} (optionally with
"map": {field value: parameter}) and/or {"default": value}. `images` lists
the image fields in order (start image first, end frame second).

Every problem raises SpecError naming the file and the field path.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings

from playground.catalog.errors import SpecError, SpecErrors, UnknownModel, ValidationFailed
from playground.catalog.parse_fields import parse_field
from playground.catalog.parse_pricing import check_price_table, parse_pricing
from playground.catalog.parse_render import parse_render
from playground.catalog.parse_rules import check_applies_cycles, parse_applies, parse_rule
from playground.catalog.pricing import Quote, quote_spec
from playground.catalog.spec import KINDS, Example, FieldSpec, ModelSpec
from playground.catalog.specreader import Reader
from playground.catalog.validator import validate_spec

DEFAULT_SPECS_DIR = Path(__file__).resolve().parent / "specs"

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?\Z")

_TOP_KEYS = {
    "id",
    "aliases",
    "title",
    "vendor",
    "summary",
    "kind",
    "also",
    "fields",
    "rules",
    "pricing",
    "timeout_seconds",
    "render",
    "examples",
    "notes",
}


def spec_file_name(model_id: str) -> str:
    return model_id.replace("/", "__") + ".json"


# -- a whole file -----------------------------------------------------------------


def parse_spec(path: Path) -> ModelSpec:
    """One spec file, fully checked. Raises SpecError naming the file and field."""
    file = path.name
    try:
        content = path.read_bytes()
        data = json.loads(content.decode("utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(file, "", f"cannot be read: {error}") from None
    except json.JSONDecodeError as error:
        raise SpecError(file, f"line {error.lineno}", f"not valid JSON: {error.msg}") from None
    r = Reader(file, "", data, _TOP_KEYS)

    model_id = r.string("id", pattern=_NAME_RE)
    if file != spec_file_name(model_id):
        r.fail("id", f"'{model_id}' belongs in {spec_file_name(model_id)}")
    aliases = r.strings("aliases", pattern=_NAME_RE)
    kind = r.string("kind")
    if kind not in KINDS:
        r.fail("kind", f"must be one of {', '.join(KINDS)}")
    also = r.strings("also")
    for index, extra in enumerate(also):
        if extra not in KINDS or extra == kind:
            raise SpecError(file, f"also[{index}]", f"must be another of {', '.join(KINDS)}")

    fields: dict[str, FieldSpec] = {}
    raw_fields = r.items("fields", required=True)
    if not raw_fields:
        r.fail("fields", "must not be empty")
    for index, raw in enumerate(raw_fields):
        field = parse_field(file, f"fields[{index}]", raw)
        if field.name in fields:
            r.fail(f"fields.{field.name}", "is declared twice")
        fields[field.name] = field
    for raw in raw_fields:
        fields[raw["name"]] = parse_applies(file, raw, fields)
    check_applies_cycles(file, fields)
    rules = tuple(
        parse_rule(file, f"rules[{i}]", raw, fields) for i, raw in enumerate(r.items("rules"))
    )
    if not r.has("pricing"):
        r.fail("pricing", "is required")
    pricing = parse_pricing(file, r.get("pricing"), fields)
    if not r.has("render"):
        r.fail("render", "is required")
    render = parse_render(file, r.get("render"), fields)

    examples = []
    for index, raw in enumerate(r.items("examples")):
        item = Reader(file, f"examples[{index}]", raw, {"summary", "source", "input"})
        if not isinstance(item.get("input"), dict):
            item.fail("input", "must be an object of field values")
        examples.append(
            Example(
                summary=item.string("summary"),
                source=item.string("source"),
                input=_plain(item.get("input")),
            )
        )

    spec = ModelSpec(
        id=model_id,
        aliases=tuple(aliases),
        title=r.string("title"),
        vendor=r.string("vendor"),
        summary=r.string("summary"),
        kind=kind,
        also=tuple(also),
        fields=tuple(fields.values()),
        rules=rules,
        pricing=pricing,
        timeout_seconds=r.integer("timeout_seconds", minimum=1, required=True),
        render=render,
        examples=tuple(examples),
        notes=tuple(r.strings("notes")),
        source_file=path,
        content_hash=hashlib.sha256(content).hexdigest(),
    )
    check_price_table(file, spec)
    _check_examples(file, spec)
    return spec


def _plain(value: Any) -> Any:
    """Example inputs as a client sends them: JSON decimals become floats again."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _check_examples(file: str, spec: ModelSpec) -> None:
    for index, example in enumerate(spec.examples):
        try:
            quote_spec(spec, validate_spec(spec, example.input))
        except ValidationFailed as failure:
            name, messages = next(iter(failure.errors.items()))
            raise SpecError(file, f"examples[{index}].input.{name}", " ".join(messages)) from None


# -- a directory of specs ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Catalog:
    specs: tuple[ModelSpec, ...]
    by_name: dict[str, ModelSpec]

    def get(self, name: Any) -> ModelSpec:
        if not isinstance(name, str) or not name.strip():
            raise UnknownModel(str(name), f"Must be a model id, one of {self.ids()}.")
        key = name.strip()
        spec = self.by_name.get(key) or self.by_name.get(key.lower())
        if spec is not None:
            return spec
        close = difflib.get_close_matches(key.lower(), self.by_name, n=6, cutoff=0.5)
        ids = list(dict.fromkeys(self.by_name[match].id for match in close))[:3]
        if ids:
            hint = f"Closest: {', '.join(ids)}."
        else:
            hint = f"Known models: {self.ids()}."
        raise UnknownModel(key, f"Unknown model '{key}'. {hint}")

    def ids(self) -> str:
        return ", ".join(spec.id for spec in self.specs)


def load_catalog(directory: Path) -> Catalog:
    """Every spec in `directory`; raises SpecErrors listing each file's problem."""
    errors: list[SpecError] = []
    specs: list[ModelSpec] = []
    paths = sorted(Path(directory).glob("*.json"))
    if not paths:
        raise SpecErrors([SpecError(str(directory), "", "holds no *.json model specs")])
    for path in paths:
        try:
            specs.append(parse_spec(path))
        except SpecError as error:
            errors.append(error)
    by_name: dict[str, ModelSpec] = {}
    for spec in specs:
        for index, name in enumerate(spec.names):
            where = "id" if index == 0 else f"aliases[{index - 1}]"
            other = by_name.get(name)
            if other is not None:
                errors.append(
                    SpecError(
                        spec.source_file.name, where, f"'{name}' is already a name of {other.id}"
                    )
                )
            by_name[name] = spec
    if errors:
        raise SpecErrors(errors)
    return Catalog(specs=tuple(sorted(specs, key=lambda s: s.id)), by_name=by_name)


def get_spec(name: str) -> ModelSpec:
    """The spec of a model id or alias; UnknownModel lists the closest ids."""
    return get_catalog().get(name)


def all_specs() -> list[ModelSpec]:
    """Every model, ordered by id."""
    return list(get_catalog().specs)


def specs_dir() -> Path:
    """The spec directory: the CATALOG_SPECS_DIR setting, else the bundled specs."""
    return Path(getattr(settings, "CATALOG_SPECS_DIR", None) or DEFAULT_SPECS_DIR)


_catalogs: dict[Path, Catalog] = {}
_lock = threading.Lock()


def get_catalog() -> Catalog:
    """The catalog of specs_dir(), parsed once per directory and process."""
    directory = specs_dir()
    catalog = _catalogs.get(directory)
    if catalog is None:
        with _lock:
            catalog = _catalogs.get(directory)
            if catalog is None:
                catalog = _catalogs[directory] = load_catalog(directory)
    return catalog


def forget_catalogs() -> None:
    """Forget loaded catalogs (catalog.clear_cache)."""
    _catalogs.clear()


def validate(model: str, input: Any) -> dict[str, Any]:
    """The normalized input for a model id or alias, or ValidationFailed.

    Normalized means: only the spec's fields, in spec order; blank values
    dropped; defaults filled in; each value in its field's canonical type.
    """
    return validate_spec(get_catalog().get(model), input)


def quote(model: str, normalized: dict[str, Any]) -> Quote:
    """The price of `normalized` (validate()'s output) for a model id or alias."""
    return quote_spec(get_catalog().get(model), normalized)
