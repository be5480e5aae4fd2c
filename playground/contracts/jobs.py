"""The jobs contract (seeds 000, 001, 003): createTask, recordInfo, cancel, credits,
and Kie's three upload endpoints.

Our internal states are this contract's states: waiting, queuing,
generating, success, fail. Its `{code, msg, data}` envelope is shared by the
other two Kie-style contracts (video_generations, generate_task).
"""

import re
from datetime import UTC
from typing import Any

from django.http import JsonResponse

from accounts.models import CreditAccount
from playground import catalog
from playground.catalog import ModelSpec
from playground.catalog.openapi import url_schema
from playground.contracts.errors import ApiError, field_errors
from playground.contracts.openapi import (
    INTEGER,
    NUMBER,
    STRING,
    json_body,
    json_content,
    link,
    obj,
    ok,
    path_param,
    ref,
)
from playground.contracts.wire import (
    Submission,
    callback_from,
    credits_number,
    json_string,
    ms,
    result_object,
)
from playground.models import Generation, Upload

NAME = "jobs"
STATES = {state: state for state, _ in Generation.STATES}


def envelope_body(data, *, code: int = 200, msg: str = "success") -> dict:
    return {"code": code, "msg": msg, "data": data}


def envelope(data, *, code: int = 200, msg: str = "success") -> JsonResponse:
    return JsonResponse(envelope_body(data, code=code, msg=msg), status=code)


def envelope_error(error: ApiError) -> JsonResponse:
    data = {"errors": error.errors} if error.errors else None
    return JsonResponse(
        {"code": error.status, "msg": error.message, "data": data}, status=error.status
    )


def task_not_found(task_id: str) -> ApiError:
    return ApiError(404, f"Task {task_id} not found.", code="not_found")


def required_task_id(task_id) -> str:
    """The taskId a status or cancel call names; a 400 when there is none."""
    if not isinstance(task_id, str) or not task_id:
        raise ApiError(400, "taskId is required.", errors={"taskId": ["This field is required."]})
    return task_id


def kie_submission(body: dict, *, model, input, callback_url: str) -> Submission:
    """The create request of a Kie-style contract, once its own fields are read."""
    if not isinstance(model, str) or not model.strip():
        raise field_errors({"model": ["This field is required."]})
    if input is None:
        raise field_errors({"input": ["This field is required."]})
    return Submission(model=model.strip(), input=input, request=body, callback_url=callback_url)


def parse_create(body: dict) -> Submission:
    """createTask's body: {model, input, callBackUrl?}."""
    callback_url = callback_from(body, "callBackUrl")
    return kie_submission(
        body, model=body.get("model"), input=body.get("input"), callback_url=callback_url
    )


def created(generation: Generation) -> dict:
    """createTask's `data` (generateTask's too): the id to poll with."""
    return {"taskId": generation.task_id}


def record(generation: Generation, request_base: str | None = None, *, states=None) -> dict:
    """A generation as recordInfo's `data` (also the body of callbacks)."""
    states = states or STATES
    return {
        "taskId": generation.task_id,
        "model": generation.model_name or generation.model_id,
        "state": states[generation.state],
        "param": json_string(generation.request),
        "resultJson": json_string(result_object(generation, request_base)),
        "failCode": generation.fail_code or None,
        "failMsg": generation.fail_msg or None,
        "progress": generation.progress,
        "costTime": generation.cost_time_ms,
        "createTime": ms(generation.created_at),
        "updateTime": ms(generation.updated_at),
        "completeTime": ms(generation.completed_at),
        "creditsCharged": credits_number(generation.charged_credits),
    }


def already_finished(generation: Generation) -> ApiError:
    return ApiError(400, f"Task {generation.task_id} has already finished ({generation.state}).")


def credits(account: CreditAccount) -> dict:
    return {
        "balance": credits_number(account.balance),
        "held": credits_number(account.held),
        "available": credits_number(account.available()),
    }


def callback_body(generation: Generation) -> dict:
    """The callback POSTed when a jobs-contract task finishes (seed 002's format,
    with Kie's codes: 200 on success, 501 on failure)."""
    data = record(generation)
    data["creditsConsumed"] = data["creditsCharged"]
    if generation.state == Generation.SUCCESS:
        return {"code": 200, "msg": "success", "data": data}
    return {"code": 501, "msg": generation.fail_msg or "Generation failed.", "data": data}


def iso_ms(moment) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def upload_data(upload: Upload, request_base: str) -> dict:
    """An upload as Kie's upload endpoints answer: the fields of both shapes it documents."""
    url = upload.public_url(request_base)
    return {
        "fileId": upload.file_id,
        "fileName": upload.file_name,
        "originalName": upload.original_name,
        "filePath": upload.storage_name,
        "fileUrl": url,
        "downloadUrl": url,
        "fileSize": upload.size_bytes,
        "mimeType": upload.mime_type,
        "uploadedAt": iso_ms(upload.created_at),
        "expiresAt": iso_ms(upload.expires_at),
    }


# -- OpenAPI --------------------------------------------------------------------

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
# The seeds' words: the states and fail codes a client may read.
TASK_STATES = ("waiting", "queuing", "generating", "success", "fail")
FAIL_CODES = ("CONTENT_VIOLATION", "INVALID_IMAGE_URL", "UPSTREAM_ERROR", "TIMEOUT")


MODEL_IN_PATH = path_param("model", "A model id or alias, e.g. kling-2-1.")
CREDITS = obj(
    ["balance", "held", "available"],
    balance=NUMBER,
    held=NUMBER,
    available=NUMBER,
)


# The taskId in a create call's envelope, for the links from create to status.
CREATED_TASK_ID = "$response.body#/data/taskId"


def schema_name(spec: ModelSpec, prefix: str) -> str:
    # Component names allow letters, digits, ".", "-" and "_" only.
    return f"{prefix}.{re.sub(r'[^A-Za-z0-9._-]', '.', spec.id)}"


def envelope_schema(data_schema: dict[str, Any]) -> dict[str, Any]:
    """The {code, msg, data} envelope around a data schema."""
    return {
        "allOf": [
            ref("schemas", "ApiResponse"),
            {"type": "object", "properties": {"data": data_schema}},
        ]
    }


def error_responses(*codes: int) -> dict[str, Any]:
    """Response references for error codes, keyed by HTTP status (it equals `code`)."""
    return {str(code): ref("responses", f"Error{code}") for code in codes}


def envelope_ok(schema: dict, description: str = "Success.") -> dict:
    return ok(envelope_schema(schema), description=description)


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
                **url_schema(),
                "description": "POSTed the task's result when it succeeds or fails.",
            },
            "input": ref("schemas", schema_name(spec, "Input")),
        },
        "examples": [{"model": spec.id, "input": example.input} for example in spec.examples],
    }


def components() -> dict[str, Any]:
    """The envelope, its errors and every model's createTask request and input schema."""
    specs = catalog.all_specs()
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
        schemas[schema_name(spec, "Input")] = catalog.input_schema(spec)
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
    }


def _error_example(code: int) -> dict[str, Any]:
    if code == 422:
        return {
            "code": 422,
            "msg": "Invalid input.",
            "data": {"errors": {"prompt": ["Must be at most 5000 characters (got 5012)."]}},
        }
    return {"code": code, "msg": ERROR_CODES[code], "data": None}


def _create_and_record_paths() -> dict[str, Any]:
    specs = catalog.all_specs()
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
                            envelope_schema(ref("schemas", "CreateTaskData")),
                            example={"code": 200, "msg": "success", "data": {"taskId": "task_…"}},
                        ),
                        "links": {
                            "recordInfo": link(
                                "recordInfo",
                                "The task's state and result.",
                                parameters={"taskId": CREATED_TASK_ID},
                            ),
                            "cancelTask": link(
                                "cancelTask",
                                "Cancel the task.",
                                request_body={"taskId": CREATED_TASK_ID},
                            ),
                        },
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
                        "content": json_content(envelope_schema(ref("schemas", "RecordInfo"))),
                    },
                    **error_responses(400, 401, 404, 429, 455, 500, 501),
                },
            }
        },
    }


def paths() -> dict[str, Any]:
    """createTask, recordInfo, cancel and the two credit calls."""
    return {
        **_create_and_record_paths(),
        "/api/v1/jobs/cancel": {
            "post": {
                "operationId": "cancelTask",
                "tags": ["jobs"],
                "summary": "Cancel an unfinished task: it fails with CANCELLED, nothing is charged",
                "requestBody": json_body(obj(["taskId"], taskId=STRING)),
                "responses": {
                    **envelope_ok(obj(["taskId", "state"], taskId=STRING, state=STRING)),
                    **error_responses(400, 401, 404, 413, 422, 429, 455, 500),
                },
            }
        },
        "/api/v1/chat/credit": {
            "get": {
                "operationId": "chatCredit",
                "tags": ["account"],
                "summary": "Available credits, as `data` itself",
                "responses": {**envelope_ok(NUMBER), **error_responses(401, 429, 455, 500)},
            }
        },
        "/api/v1/account/credits": {
            "get": {
                "operationId": "accountCredits",
                "tags": ["account"],
                "summary": "Balance, held and available credits",
                "responses": {**envelope_ok(CREDITS), **error_responses(401, 429, 455, 500)},
            }
        },
    }


def upload_paths() -> dict:
    """Kie's three upload endpoints."""
    uploaded = obj(
        ["fileId", "fileName", "fileUrl", "downloadUrl", "fileSize", "mimeType"],
        fileId=STRING,
        fileName=STRING,
        originalName=STRING,
        filePath=STRING,
        fileUrl={**STRING, "format": "uri"},
        downloadUrl={**STRING, "format": "uri"},
        fileSize=INTEGER,
        mimeType={"type": "string", "enum": ["image/jpeg", "image/png", "image/webp", "video/mp4"]},
        uploadedAt=STRING,
        expiresAt=STRING,
    )
    names = {"fileName": STRING, "uploadPath": STRING}

    def upload(operation_id: str, summary: str, content: dict) -> dict:
        return {
            "post": {
                "operationId": operation_id,
                "tags": ["uploads"],
                "summary": summary,
                "description": "jpeg, png or webp (≤ UPLOAD_MAX_IMAGE_MB) or mp4 "
                "(≤ UPLOAD_MAX_VIDEO_MB), judged by content. The fileUrl works as any "
                "image or video input of createTask.",
                "requestBody": {"required": True, "content": content},
                "responses": {
                    **envelope_ok(uploaded),
                    **error_responses(400, 401, 413, 422, 429, 455, 500),
                },
            }
        }

    return {
        "/api/file-stream-upload": upload(
            "fileStreamUpload",
            "Upload a file (multipart)",
            {
                "multipart/form-data": {
                    "schema": obj(["file"], file={"type": "string", "format": "binary"}, **names)
                }
            },
        ),
        "/api/file-base64-upload": upload(
            "fileBase64Upload",
            "Upload a file as base64 or a data: URI",
            {"application/json": {"schema": obj(["base64Data"], base64Data=STRING, **names)}},
        ),
        "/api/file-url-upload": upload(
            "fileUrlUpload",
            "Upload a file from a URL",
            {
                "application/json": {
                    "schema": obj(["fileUrl"], fileUrl={**STRING, "format": "uri"}, **names)
                }
            },
        ),
    }
