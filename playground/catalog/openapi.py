"""The OpenAPI 3.1 document: JSON Schema for every model, derived from the specs.

`openapi_document()` returns a fresh dict covering the jobs contract
(createTask, recordInfo). Other contracts add their operations to its
`paths` (or pass them as `paths=`), using `envelope()`, `error_responses()`
and the components defined here so every path shares one envelope.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from playground.catalog.loader import all_specs
from playground.catalog.spec import MAX_URL_LENGTH, Condition, FieldSpec, ModelSpec, Rule
from playground.catalog.values import number_text

ERROR_CODES: dict[int, str] = {
    400: "Bad request: the body is not JSON or misses model or input.",
    401: "Unauthorized: the API key is missing or invalid.",
    402: "Insufficient credits for this generation.",
    404: "Not found: no such task (or it belongs to another team), or no such model.",
    413: "Request too large: a JSON body over 2.5 MB, or a form with too many fields or files.",
    422: "Validation error: data.errors maps each field to messages.",
    429: "Rate limited, or too many running tasks.",
    455: "Service unavailable: maintenance.",
    500: "Server error.",
    501: "Generation failed.",
    505: "Feature disabled.",
}
TASK_STATES = ("waiting", "queuing", "generating", "success", "fail")
FAIL_CODES = ("CONTENT_VIOLATION", "INVALID_IMAGE_URL", "UPSTREAM_ERROR", "TIMEOUT")


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema_name(spec: ModelSpec, prefix: str) -> str:
    # Component names allow letters, digits, ".", "-" and "_" only.
    return f"{prefix}.{re.sub(r'[^A-Za-z0-9._-]', '.', spec.id)}"


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# -- one field, one model --------------------------------------------------------


def _url_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "format": "uri",
        # A host, and no whitespace: what check_url() insists on beyond "uri".
        "pattern": r"^https?://[^\s/?#]+([/?#]\S*)?$",
        "maxLength": MAX_URL_LENGTH,
    }


def field_schema(field: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any]
    if field.type in ("textarea", "text"):
        schema = {"type": "string", "maxLength": field.max_length}
        if field.required:
            # Blank text counts as not given.
            schema["pattern"] = "\\S"
    elif field.type == "select":
        values = list(field.choice_values)
        schema = {"type": "integer" if isinstance(values[0], int) else "string", "enum": values}
    elif field.type == "number":
        schema = {"type": "integer" if field.integer else "number"}
        schema["minimum"] = _json_number(field.min)
        schema["maximum"] = _json_number(field.max)
        if field.step is not None and Decimal(float(field.step)) == field.step:
            schema["multipleOf"] = _json_number(field.step)
        elif field.step is not None:
            # Validators test multipleOf in binary floating point, where 0.6
            # is not a multiple of 0.1: a 0.1 step would reject valid input.
            # The step is stated for people and tools that read extensions.
            schema["x-step"] = _json_number(field.step)
    elif field.type == "switch":
        schema = {"type": "boolean"}
    elif field.type == "image_urls":
        schema = {"type": "array", "items": _url_schema(), "maxItems": field.max_items}
        if field.min_items:
            schema["minItems"] = field.min_items
    else:
        schema = _url_schema()
    schema["title"] = field.label
    description = _description(field)
    if description:
        schema["description"] = description
    if field.default is not None:
        schema["default"] = field.default
    schema["x-field-type"] = field.type
    return schema


def _description(field: FieldSpec) -> str:
    parts = [field.help] if field.help else []
    if field.type == "select" and any(c.label != str(c.value) for c in field.choices):
        parts.append("; ".join(f"{c.value}: {c.label}" for c in field.choices) + ".")
    if field.type == "select" and any(isinstance(v, int) for v in field.choice_values):
        parts.append("Numeric strings are accepted too.")
    if field.type == "select" and all(isinstance(v, str) for v in field.choice_values):
        if all(v.isdigit() for v in field.choice_values):
            parts.append("Integers are accepted too.")
    if field.type == "number" and field.step is not None:
        parts.append(
            f"From {number_text(field.min)} to {number_text(field.max)}"
            f" in steps of {number_text(field.step)}."
        )
    if field.accept:
        parts.append(f"Accepted types: {', '.join(field.accept)}.")
    if field.max_bytes:
        parts.append(f"Max size: {field.max_bytes / 1048576:g} MB.")
    return " ".join(parts)


def _condition(spec: ModelSpec, condition: Condition) -> dict[str, Any]:
    name = condition.field
    if condition.present is not None:
        required = {"required": [name]}
        return required if condition.present else {"not": required}
    values = list(condition.values or ())
    schema: dict[str, Any] = {
        "properties": {name: {"const": values[0]} if len(values) == 1 else {"enum": values}}
    }
    # An absent field takes its default: it meets the test when the default does.
    if spec.field(name).default not in values:
        schema["required"] = [name]
    return schema


def rule_schema(spec: ModelSpec, rule: Rule) -> dict[str, Any]:
    """A cross-field rule as JSON Schema if/then."""
    field = spec.field(rule.field)
    name = rule.field
    then: dict[str, Any] = {}
    constraint: dict[str, Any] = {}
    required = rule.required
    if rule.forbidden:
        then["not"] = {"required": [name]}
    if rule.one_of is not None:
        values = list(rule.one_of)
        constraint.update({"const": values[0]} if len(values) == 1 else {"enum": values})
        required = required or field.default not in values
    if rule.min_items is not None:
        constraint["minItems"] = rule.min_items
        required = required or rule.min_items > 0
    if rule.max_items is not None:
        constraint["maxItems"] = rule.max_items
    if rule.min is not None:
        constraint["minimum"] = _json_number(rule.min)
    if rule.max is not None:
        constraint["maximum"] = _json_number(rule.max)
    if rule.required and field.type in ("textarea", "text"):
        constraint["pattern"] = "\\S"  # blank text counts as not given
    if constraint:
        then["properties"] = {name: constraint}
    if required:
        then["required"] = [name]
    conditions = [_condition(spec, condition) for condition in rule.when]
    schema: dict[str, Any] = {
        "if": conditions[0] if len(conditions) == 1 else {"allOf": conditions},
        "then": then,
    }
    if rule.message:
        schema["description"] = rule.message
    return schema


def input_schema(spec: ModelSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "title": f"{spec.title} input",
        "description": spec.summary,
        "properties": {field.name: field_schema(field) for field in spec.fields},
        "additionalProperties": False,
    }
    required = [field.name for field in spec.fields if field.required]
    if required:
        schema["required"] = required
    if spec.rules:
        schema["allOf"] = [rule_schema(spec, rule) for rule in spec.rules]
    if spec.examples:
        schema["examples"] = [example.input for example in spec.examples]
    return schema


def create_task_schema(spec: ModelSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "title": f"createTask: {spec.title}",
        "description": f"{spec.summary} Pricing: {spec.pricing.source}",
        "required": ["model", "input"],
        "properties": {
            "model": {
                "type": "string",
                "enum": list(spec.names),
                "description": f"`{spec.id}`"
                + (f" (aliases: {', '.join(spec.aliases)})" if spec.aliases else ""),
            },
            "callBackUrl": {
                **_url_schema(),
                "description": "POSTed the task's result when it succeeds or fails.",
            },
            "input": ref("schemas", schema_name(spec, "Input")),
        },
        "examples": [{"model": spec.id, "input": example.input} for example in spec.examples],
    }


# -- shared pieces -----------------------------------------------------------------


def envelope(data_schema: dict[str, Any]) -> dict[str, Any]:
    """The {code, msg, data} envelope around a data schema."""
    return {
        "allOf": [
            ref("schemas", "ApiResponse"),
            {"type": "object", "properties": {"data": data_schema}},
        ]
    }


def json_content(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema, **extra}}


def error_responses(*codes: int) -> dict[str, Any]:
    """Response references for error codes, keyed by HTTP status (it equals `code`)."""
    return {str(code): ref("responses", f"Error{code}") for code in codes}


def openapi_components() -> dict[str, Any]:
    specs = all_specs()
    schemas: dict[str, Any] = {
        "ApiResponse": {
            "type": "object",
            "required": ["code", "msg"],
            "properties": {
                "code": {
                    "type": "integer",
                    "enum": [200, *ERROR_CODES],
                    "description": "200 on success; on errors it equals the HTTP status.",
                },
                "msg": {"type": "string", "examples": ["success"]},
                "data": {},
            },
        },
        "Error": {
            "type": "object",
            "required": ["code", "msg"],
            "properties": {
                "code": {"type": "integer", "enum": list(ERROR_CODES)},
                "msg": {"type": "string"},
                "data": {"type": ["object", "null"]},
            },
        },
        "ValidationError": {
            "type": "object",
            "required": ["code", "msg", "data"],
            "properties": {
                "code": {"type": "integer", "const": 422},
                "msg": {"type": "string"},
                "data": {
                    "type": "object",
                    "properties": {
                        "errors": {
                            "type": "object",
                            "description": "Field name (or input, model) to messages.",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        }
                    },
                },
            },
        },
        "CreateTaskData": {
            "type": "object",
            "required": ["taskId"],
            "properties": {"taskId": {"type": "string"}},
        },
        "RecordInfo": {
            "type": "object",
            "required": ["taskId", "model", "state", "param", "createTime"],
            "properties": {
                "taskId": {"type": "string"},
                "model": {"type": "string"},
                "state": {"type": "string", "enum": list(TASK_STATES)},
                "param": {"type": "string", "description": "The createTask body as a JSON string."},
                "resultJson": {
                    "type": ["string", "null"],
                    "description": 'A JSON string: {"resultUrls": [...]} on success.',
                },
                "failCode": {
                    "type": ["string", "null"],
                    "description": f"On fail, e.g. {', '.join(FAIL_CODES)}.",
                },
                "failMsg": {"type": ["string", "null"]},
                "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                "costTime": {"type": ["integer", "null"], "description": "Milliseconds."},
                "completeTime": {"type": ["integer", "null"], "description": "Epoch ms."},
                "createTime": {"type": "integer", "description": "Epoch ms."},
                "updateTime": {"type": "integer", "description": "Epoch ms."},
                "creditsCharged": {
                    "type": "number",
                    "description": "Credits charged: the quote on success, 0 otherwise.",
                },
            },
        },
    }
    mapping = {}
    for spec in specs:
        request = schema_name(spec, "CreateTask")
        schemas[schema_name(spec, "Input")] = input_schema(spec)
        schemas[request] = create_task_schema(spec)
        mapping.update({name: f"#/components/schemas/{request}" for name in spec.names})
    schemas["CreateTaskRequest"] = {
        "oneOf": [ref("schemas", schema_name(spec, "CreateTask")) for spec in specs],
        "discriminator": {"propertyName": "model", "mapping": mapping},
    }
    responses = {
        f"Error{code}": {
            "description": description,
            "content": json_content(
                ref("schemas", "ValidationError" if code == 422 else "Error"),
                example=_error_example(code),
            ),
        }
        for code, description in ERROR_CODES.items()
    }
    return {
        "schemas": schemas,
        "responses": responses,
        "parameters": {
            "TaskId": {
                "name": "taskId",
                "in": "query",
                "required": True,
                "schema": {"type": "string"},
                "description": "The taskId createTask returned.",
            }
        },
        "securitySchemes": {
            "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "API key"}
        },
    }


def _error_example(code: int) -> dict[str, Any]:
    if code == 422:
        return {
            "code": 422,
            "msg": "Invalid input.",
            "data": {"errors": {"prompt": ["Must be at most 5000 characters (got 5012)."]}},
        }
    return {"code": code, "msg": ERROR_CODES[code], "data": None}


def _jobs_paths(specs: list[ModelSpec]) -> dict[str, Any]:
    examples = {
        f"{spec.id} #{index + 1}" if len(spec.examples) > 1 else spec.id: {
            "summary": f"{spec.title}: {example.summary}",
            "value": {"model": spec.id, "input": example.input},
        }
        for spec in specs
        for index, example in enumerate(spec.examples)
    }
    return {
        "/api/v1/jobs/createTask": {
            "post": {
                "operationId": "createTask",
                "tags": ["jobs"],
                "summary": "Create a generation task",
                "description": "Validates input against the model's spec, holds its price in "
                "credits and queues the task. Credits are charged only on success.",
                "requestBody": {
                    "required": True,
                    "content": json_content(ref("schemas", "CreateTaskRequest"), examples=examples),
                },
                "responses": {
                    "200": {
                        "description": "Task accepted.",
                        "content": json_content(
                            envelope(ref("schemas", "CreateTaskData")),
                            example={"code": 200, "msg": "success", "data": {"taskId": "task_…"}},
                        ),
                    },
                    **error_responses(400, 401, 402, 413, 422, 429, 455, 500, 505),
                },
            }
        },
        "/api/v1/jobs/recordInfo": {
            "get": {
                "operationId": "recordInfo",
                "tags": ["jobs"],
                "summary": "Get a task's state and result",
                "parameters": [ref("parameters", "TaskId")],
                "responses": {
                    "200": {
                        "description": "The task.",
                        "content": json_content(envelope(ref("schemas", "RecordInfo"))),
                    },
                    **error_responses(400, 401, 404, 429, 455, 500, 501),
                },
            }
        },
    }


def openapi_document(
    base_url: str = "",
    *,
    paths: dict[str, Any] | None = None,
    title: str = "Reelgate API",
    version: str = "1.0.0",
) -> dict[str, Any]:
    """A fresh OpenAPI 3.1 document; callers may add to its `paths` freely."""
    specs = all_specs()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Asynchronous video generation. Every model's input schema is "
            "derived from the same spec the server validates with.",
        },
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "security": [{"BearerAuth": []}],
        "tags": [{"name": "jobs", "description": "createTask / recordInfo"}],
        "paths": {**_jobs_paths(specs), **(paths or {})},
        "components": openapi_components(),
    }
