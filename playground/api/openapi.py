"""GET /api/openapi.json: the catalog's per-model schemas plus every endpoint.

The catalog documents createTask and recordInfo from the model specs; the
other endpoints of each contract are described here, next to the code that
serves them. Other contract modules add theirs through `extra_paths`.
"""

from typing import Any

from django.http import HttpRequest, JsonResponse

from playground import catalog
from playground.api import replicate_openapi
from playground.catalog import envelope, error_responses
from playground.contracts.wire import request_base_url

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
NULLABLE_INTEGER = {"type": ["integer", "null"]}
NUMBER = {"type": "number"}


def json_body(schema: dict, example: Any = None) -> dict:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"required": True, "content": {"application/json": content}}


def ok(schema: dict, description: str = "Success.") -> dict:
    return {
        "200": {
            "description": description,
            "content": {"application/json": {"schema": envelope(schema)}},
        }
    }


def obj(required: list[str], **properties) -> dict:
    return {"type": "object", "required": required, "properties": properties}


def query(name: str, description: str, required: bool = True) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": STRING,
        "description": description,
    }


MODEL_IN_PATH = {
    "name": "model",
    "in": "path",
    "required": True,
    "schema": STRING,
    "description": "A model id or alias, e.g. kling-2-1.",
}
DIALECT_STATES = {"type": "string", "enum": ["pending", "processing", "completed", "failed"]}
TASK_STATES = {"type": "string", "enum": ["pending", "processing", "success", "failed"]}
CREDITS = obj(
    ["balance", "held", "available"],
    balance=NUMBER,
    held=NUMBER,
    available=NUMBER,
)


def video_generation_status() -> dict:
    return obj(
        ["taskId", "state", "model"],
        taskId=STRING,
        state=DIALECT_STATES,
        model=STRING,
        progress=INTEGER,
        resultUrls={"type": "array", "items": STRING},
        createTime=INTEGER,
        completeTime=NULLABLE_INTEGER,
        costTime=NULLABLE_INTEGER,
        failCode=NULLABLE_STRING,
        failMsg=NULLABLE_STRING,
    )


def status_task() -> dict:
    return obj(
        ["taskId", "state"],
        taskId=STRING,
        model=STRING,
        state=TASK_STATES,
        param=NULLABLE_STRING,
        resultJson=NULLABLE_STRING,
        failCode=NULLABLE_STRING,
        failMsg=NULLABLE_STRING,
        progress=INTEGER,
        createTime=INTEGER,
        completeTime=NULLABLE_INTEGER,
        costTime=NULLABLE_INTEGER,
    )


def kie_paths() -> dict:
    flat_body = {
        "type": "object",
        "required": ["model"],
        "properties": {
            "model": {**STRING, "examples": ["kling-v2-6"]},
            "callback_url": {**STRING, "format": "uri"},
        },
        "additionalProperties": True,
        "description": "The model's input fields, flat beside `model` (see the model schemas).",
    }
    return {
        "/api/v1/jobs/cancel": {
            "post": {
                "operationId": "cancelTask",
                "tags": ["jobs"],
                "summary": "Cancel an unfinished task: it fails with CANCELLED, nothing is charged",
                "requestBody": json_body(obj(["taskId"], taskId=STRING)),
                "responses": {
                    **ok(obj(["taskId", "state"], taskId=STRING, state=STRING)),
                    **error_responses(400, 401, 404, 413, 422, 429, 455, 500),
                },
            }
        },
        "/api/v1/chat/credit": {
            "get": {
                "operationId": "chatCredit",
                "tags": ["account"],
                "summary": "Available credits, as `data` itself",
                "responses": {**ok(NUMBER), **error_responses(401, 429, 455, 500)},
            }
        },
        "/api/v1/account/credits": {
            "get": {
                "operationId": "accountCredits",
                "tags": ["account"],
                "summary": "Balance, held and available credits",
                "responses": {**ok(CREDITS), **error_responses(401, 429, 455, 500)},
            }
        },
        "/api/v1/video/generations": {
            "post": {
                "operationId": "createVideoGeneration",
                "tags": ["video generations"],
                "summary": "Create a task (flat body; seed 002's dialect)",
                "requestBody": json_body(
                    flat_body,
                    {
                        "model": "kling-v2-6",
                        "prompt": "A girl dancing on the beach at sunset",
                        "mode": "std",
                        "duration": "5",
                        "aspect_ratio": "16:9",
                    },
                ),
                "responses": {
                    **ok(
                        obj(
                            ["taskId", "state", "model"],
                            taskId=STRING,
                            state=DIALECT_STATES,
                            model=STRING,
                        )
                    ),
                    **error_responses(400, 401, 402, 413, 422, 429, 455, 500, 505),
                },
            },
            "get": {
                "operationId": "getVideoGeneration",
                "tags": ["video generations"],
                "summary": "A task's state and result URLs",
                "parameters": [query("task_id", "The taskId the create call returned.")],
                "responses": {
                    **ok(video_generation_status()),
                    **error_responses(400, 401, 404, 429, 455, 500),
                },
            },
        },
        "/api/v1/generateTask/{model}": {
            "post": {
                "operationId": "generateTask",
                "tags": ["generateTask"],
                "summary": "Create a task for the model in the path (seed 004's dialect)",
                "parameters": [MODEL_IN_PATH],
                "requestBody": json_body(
                    obj(
                        ["input"],
                        request_type={"type": "string", "enum": ["async", "callback"]},
                        callback_url={**STRING, "format": "uri"},
                        provider={"type": "string", "enum": ["auto", "value", "official"]},
                        input={"type": "object"},
                    ),
                    {
                        "request_type": "async",
                        "input": {
                            "mode": "master-text-to-video",
                            "prompt": "A red fox in fresh snow",
                        },
                    },
                ),
                "responses": {
                    **ok(obj(["taskId"], taskId=STRING)),
                    **error_responses(400, 401, 402, 413, 422, 429, 455, 500, 505),
                },
            }
        },
        "/api/v1/statusTask/{model}": {
            "get": {
                "operationId": "statusTask",
                "tags": ["generateTask"],
                "summary": "A generateTask task's state and result",
                "parameters": [MODEL_IN_PATH, query("taskId", "The taskId generateTask returned.")],
                "responses": {**ok(status_task()), **error_responses(400, 401, 404, 429, 455, 500)},
            }
        },
    }


def upload_paths() -> dict:
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
                "responses": {**ok(uploaded), **error_responses(400, 401, 413, 422, 429, 455, 500)},
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


OPENAI_STATUSES = {"type": "string", "enum": ["queued", "in_progress", "completed", "failed"]}
OPENAI_ERROR = obj(
    ["error"],
    error=obj(
        ["message", "type", "param", "code"],
        message=STRING,
        type=STRING,
        param=NULLABLE_STRING,
        code=NULLABLE_STRING,
    ),
)
OPENAI_ERROR_TEXT = {
    400: "Invalid request: a bad parameter or model field (param names it).",
    401: "The API key is missing or invalid.",
    402: "Not enough credits (code insufficient_quota).",
    404: "No such video (or another team's), or its content is not ready yet.",
    405: "Method not allowed.",
    413: "Request too large: a JSON body over 2.5 MB (send input_reference as a file), "
    "or a form with too many fields or files.",
    429: "Rate limited, or too many unfinished videos.",
    455: "Service unavailable: maintenance.",
    500: "Server error.",
    505: "No provider serves the model now.",
}
VIDEO_ID_IN_PATH = {
    "name": "video_id",
    "in": "path",
    "required": True,
    "schema": STRING,
    "description": "The video's id, as create returned it.",
}


def openai_errors(*codes: int) -> dict:
    return {
        str(code): {
            "description": OPENAI_ERROR_TEXT[code],
            "content": {"application/json": {"schema": OPENAI_ERROR}},
        }
        for code in codes
    }


def openai_ok(schema: dict) -> dict:
    return {"200": {"description": "Success.", "content": {"application/json": {"schema": schema}}}}


def openai_video() -> dict:
    return obj(
        ["id", "object", "model", "status", "progress", "created_at", "seconds", "size"],
        id=STRING,
        object={"type": "string", "const": "video"},
        model=STRING,
        status=OPENAI_STATUSES,
        progress={"type": "integer", "minimum": 0, "maximum": 100},
        created_at=INTEGER,
        completed_at=NULLABLE_INTEGER,
        expires_at={"type": "null", "description": "Results are kept until deleted."},
        seconds={**STRING, "examples": ["5"]},
        size={**STRING, "examples": ["1280x720"]},
        prompt=NULLABLE_STRING,
        remixed_from_video_id=NULLABLE_STRING,
        error={"oneOf": [{"type": "null"}, obj(["code", "message"], code=STRING, message=STRING)]},
    )


def openai_paths() -> dict:
    """The OpenAI videos contract (playground/api/openai_videos.py)."""
    fields = {
        "model": {**STRING, "description": "A model id or alias; OPENAI_DEFAULT_MODEL if none."},
        "prompt": STRING,
        "seconds": {**STRING, "description": "The model's duration.", "examples": ["5"]},
        "size": {**STRING, "description": "WIDTHxHEIGHT the model makes.", "examples": ["854x480"]},
    }
    reference = {
        "oneOf": [
            {**STRING, "description": "An image URL."},
            obj(["image_url"], image_url={**STRING, "description": "http(s) or base64 data: URL"}),
            obj(["file_id"], file_id={**STRING, "description": "The fileId of an upload."}),
        ]
    }
    create_body = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        **fields,
                        "input_reference": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                            "description": "A start image file: JPEG, PNG or WebP.",
                        },
                    },
                    "additionalProperties": {"type": "string"},
                    "description": "Other keys are the model's own fields (see its schema).",
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {**fields, "input_reference": reference},
                    "additionalProperties": True,
                    "description": "Other keys are the model's own fields (see its schema).",
                },
                "example": {"model": "kling/v2-1", "prompt": "A red fox", "size": "854x480"},
            },
        },
    }
    tags = ["OpenAI videos"]
    video_ok = openai_ok(openai_video())
    optional = {"in": "query", "required": False}
    return {
        "/v1/videos": {
            "post": {
                "operationId": "openaiCreateVideo",
                "tags": tags,
                "summary": "Create a video (the openai SDK's client.videos.create)",
                "requestBody": create_body,
                "responses": {**video_ok, **openai_errors(400, 401, 402, 413, 429, 455, 500, 505)},
            },
            "get": {
                "operationId": "openaiListVideos",
                "tags": tags,
                "summary": "The team's videos made through this contract, by cursor",
                "parameters": [
                    {"name": "after", **optional, "schema": STRING},
                    {
                        "name": "limit",
                        **optional,
                        "schema": {**INTEGER, "minimum": 1, "maximum": 100},
                    },
                    {
                        "name": "order",
                        **optional,
                        "schema": {"type": "string", "enum": ["asc", "desc"]},
                    },
                ],
                "responses": {
                    **openai_ok(
                        obj(
                            ["object", "data", "first_id", "last_id", "has_more"],
                            object={"type": "string", "const": "list"},
                            data={"type": "array", "items": openai_video()},
                            first_id=NULLABLE_STRING,
                            last_id=NULLABLE_STRING,
                            has_more={"type": "boolean"},
                        )
                    ),
                    **openai_errors(400, 401, 429, 455, 500),
                },
            },
        },
        "/v1/videos/{video_id}": {
            "get": {
                "operationId": "openaiRetrieveVideo",
                "tags": tags,
                "summary": "A video's status (openai-poll-after-ms says when to ask again)",
                "parameters": [VIDEO_ID_IN_PATH],
                "responses": {**video_ok, **openai_errors(401, 404, 429, 455, 500)},
            },
            "delete": {
                "operationId": "openaiDeleteVideo",
                "tags": tags,
                "summary": "Delete a completed or failed video and its files (not its charge)",
                "parameters": [VIDEO_ID_IN_PATH],
                "responses": {
                    **openai_ok(
                        obj(
                            ["id", "object", "deleted"],
                            id=STRING,
                            object={"type": "string", "const": "video.deleted"},
                            deleted={"type": "boolean"},
                        )
                    ),
                    **openai_errors(400, 401, 404, 429, 455, 500),
                },
            },
        },
        "/v1/videos/{video_id}/content": {
            "get": {
                "operationId": "openaiDownloadVideoContent",
                "tags": tags,
                "summary": "The MP4, or its poster with variant=thumbnail",
                "parameters": [
                    VIDEO_ID_IN_PATH,
                    {
                        "name": "variant",
                        **optional,
                        "schema": {"type": "string", "enum": ["video", "thumbnail"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file.",
                        "content": {
                            media: {"schema": {"type": "string", "contentMediaType": media}}
                            for media in ("video/mp4", "image/jpeg", "image/png", "image/webp")
                        },
                    },
                    **openai_errors(400, 401, 404, 429, 455, 500),
                },
            }
        },
        "/v1/videos/{video_id}/remix": {
            "post": {
                "operationId": "openaiRemixVideo",
                "tags": tags,
                "summary": "A new video: the same model and parameters, a new prompt",
                "parameters": [VIDEO_ID_IN_PATH],
                "requestBody": json_body(obj(["prompt"], prompt=STRING), {"prompt": "At night"}),
                "responses": {
                    **video_ok,
                    **openai_errors(400, 401, 402, 404, 413, 429, 455, 500, 505),
                },
            }
        },
    }


def extra_paths() -> dict:
    """Paths of the contracts beyond the jobs contract."""
    return {**kie_paths(), **upload_paths(), **openai_paths(), **replicate_openapi.paths()}


def document(base_url: str = "") -> dict:
    return catalog.openapi_document(base_url, paths=extra_paths())


def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        document(request_base_url(request)), json_dumps_params={"ensure_ascii": False}
    )
