"""OpenAPI paths of the Replicate contract: predictions (replicate_predictions.py)
and files (replicate_files.py).

openapi.extra_paths() adds them to the document.
"""

from typing import Any

from playground.contracts.replicate import EVENTS, METADATA_MAX_BYTES, STATUSES, WAIT_MAX_SECONDS

TAGS = ["Replicate predictions"]
FILE_TAGS = ["Replicate files"]
STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
MOMENT = {"type": "string", "format": "date-time"}
NULLABLE_MOMENT = {"type": ["string", "null"], "format": "date-time"}
PROBLEM = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "title": STRING,
        "detail": STRING,
        "status": {"type": "integer"},
        "invalid_fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": STRING, "field": STRING, "description": STRING},
            },
        },
    },
    "description": "Problem details; the client raises ReplicateError with status and detail.",
}
ERROR_TEXT = {
    400: "Bad request: malformed JSON, a bad cursor or a bad Prefer: wait.",
    401: "Unauthenticated: the API key is missing or invalid.",
    402: "Insufficient credit for this prediction.",
    404: "Not found: no such model or prediction (or it belongs to another team).",
    413: "Request too large: a JSON body over 2.5 MB, or a form with too many fields or files.",
    422: "Input validation failed: invalid_fields names each field.",
    429: "Too many requests, or too many unfinished predictions.",
    455: "Service unavailable: maintenance.",
    500: "Server error.",
    505: "No provider serves the model now.",
}


def obj(required: list[str], **properties: Any) -> dict:
    return {"type": "object", "required": required, "properties": properties}


FILE_ERROR_TEXT = {
    **ERROR_TEXT,
    400: "Bad request: not multipart/form-data, an unreadable body or a bad cursor.",
    404: "Not found: no such file (or it belongs to another team).",
    422: "The file is missing, empty, of another type or too large, or metadata is "
    "not a JSON object: invalid_fields names the part.",
}


def errors(*codes: int, text: dict[int, str] = ERROR_TEXT) -> dict:
    answers = {}
    for code in codes:
        content = {"application/problem+json": {"schema": PROBLEM}}
        if code == 404:
            # A /v1/ URL no route matches gets the site's JSON 404, which has `detail` too.
            content["application/json"] = {"schema": PROBLEM}
        answers[str(code)] = {"description": text[code], "content": content}
    return answers


def ok(schema: dict, status: int = 200, description: str = "Success.") -> dict:
    return {
        str(status): {
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def prediction() -> dict:
    return obj(
        ["id", "model", "version", "input", "status", "created_at", "urls"],
        id=STRING,
        model={**STRING, "description": "owner/name as requested."},
        version={**STRING, "description": "The model spec's content hash."},
        input={"type": "object", "description": "The input as validated and normalized."},
        output={**NULLABLE_STRING, "description": "The video's absolute URL once succeeded."},
        status={"type": "string", "enum": list(STATUSES)},
        error=NULLABLE_STRING,
        logs=STRING,
        metrics={
            "type": "object",
            "properties": {"predict_time": {"type": "number"}, "total_time": {"type": "number"}},
        },
        created_at=MOMENT,
        started_at=NULLABLE_MOMENT,
        completed_at=NULLABLE_MOMENT,
        urls={"type": "object", "additionalProperties": STRING},
        data_removed={"type": "boolean"},
        source={"type": "string", "enum": ["api", "web"]},
    )


def version() -> dict:
    return obj(
        ["id", "created_at", "cog_version", "openapi_schema"],
        id=STRING,
        created_at=MOMENT,
        cog_version=STRING,
        openapi_schema={
            "type": "object",
            "description": "Cog's layout: components.schemas.Input and Output.",
        },
    )


def page(items: dict) -> dict:
    return obj(
        ["next", "previous", "results"],
        next={**NULLABLE_STRING, "description": "The URL of the next (older) page."},
        previous={**NULLABLE_STRING, "description": "The URL of the previous (newer) page."},
        results={"type": "array", "items": items},
    )


def file() -> dict:
    return obj(
        [
            "id",
            "name",
            "content_type",
            "size",
            "etag",
            "checksums",
            "metadata",
            "created_at",
            "expires_at",
            "urls",
        ],
        id=STRING,
        name={**STRING, "description": "The name it was uploaded with."},
        content_type={
            "type": "string",
            "enum": ["image/jpeg", "image/png", "image/webp", "video/mp4"],
            "description": "Judged by the content, not by what the client said.",
        },
        size={"type": "integer", "description": "Bytes."},
        etag={**STRING, "description": "The content's MD5."},
        checksums={
            "type": "object",
            "properties": {"sha256": STRING, "md5": STRING},
            "additionalProperties": STRING,
        },
        metadata={"type": "object", "description": "As sent with the file."},
        created_at=MOMENT,
        expires_at={
            **NULLABLE_MOMENT,
            "description": "When the file is deleted unless a prediction uses it first; "
            "a file a prediction uses is kept.",
        },
        urls=obj(
            ["get"],
            get={
                **STRING,
                "format": "uri",
                "description": "The file itself: pass it as any image or video input.",
            },
        ),
    )


def path_param(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": STRING,
        "description": description,
    }


OWNER = path_param("owner", "The model's owner: the part of a catalog id or alias before '/'.")
NAME = path_param("name", "The model's name: the part after '/' (google/veo-3-1).")
PREDICTION_ID = path_param("prediction_id", "The prediction's id, as create returned it.")
FILE_ID = path_param("file_id", "The file's id, as create returned it.")
CURSOR = {
    "name": "cursor",
    "in": "query",
    "required": False,
    "schema": STRING,
    "description": "From a page's next or previous URL.",
}
WAIT_TEXT = (
    f"With `Prefer: wait` (or `wait=N`, 1 to {WAIT_MAX_SECONDS} s) the answer waits until the "
    "prediction finishes or the time runs out; an unfinished one is returned as `starting`. "
    "Without it, the answer comes at once."
)


def create_body(*, version_required: bool) -> dict:
    properties: dict[str, Any] = {
        "input": {"type": "object", "description": "The model's input fields (its schema)."},
        "webhook": {**STRING, "format": "uri"},
        "webhook_completed": {**STRING, "format": "uri", "description": "Completion only."},
        "webhook_events_filter": {
            "type": "array",
            "items": {"type": "string", "enum": list(EVENTS)},
        },
    }
    required = ["input"]
    if version_required:
        properties["version"] = {
            **STRING,
            "description": "A version id, owner/name:version or owner/name.",
        }
        required.append("version")
    example = {"input": {"prompt": "A paper boat on a rainy street", "duration": 5}}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": required, "properties": properties},
                "example": example,
            }
        },
    }


def file_paths() -> dict:
    upload = obj(
        ["content"],
        content={
            "type": "string",
            "format": "binary",
            "description": "The file: a JPEG, PNG or WebP image (at most UPLOAD_MAX_IMAGE_MB) "
            "or an MP4 video (at most UPLOAD_MAX_VIDEO_MB).",
        },
        filename={**STRING, "description": "Its name; the content part's filename otherwise."},
        type={**STRING, "description": "Accepted and ignored: the content decides the type."},
        metadata={
            **STRING,
            "description": f"A JSON object kept with the file, at most "
            f"{METADATA_MAX_BYTES // 1024} KB.",
        },
    )
    return {
        "/v1/files": {
            "post": {
                "operationId": "replicateCreateFile",
                "tags": FILE_TAGS,
                "summary": "Upload a file to use as a prediction input (the client's files.create)",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": upload}},
                },
                "responses": {
                    **ok(file(), 201, "The file."),
                    **errors(400, 401, 413, 422, 429, 455, 500, text=FILE_ERROR_TEXT),
                },
            },
            "get": {
                "operationId": "replicateListFiles",
                "tags": FILE_TAGS,
                "summary": "The team's files, newest first",
                "parameters": [CURSOR],
                "responses": {
                    **ok(page(file())),
                    **errors(400, 401, 429, 455, 500, text=FILE_ERROR_TEXT),
                },
            },
        },
        "/v1/files/{file_id}": {
            "get": {
                "operationId": "replicateGetFile",
                "tags": FILE_TAGS,
                "summary": "A file",
                "parameters": [FILE_ID],
                "responses": {
                    **ok(file()),
                    **errors(401, 404, 429, 455, 500, text=FILE_ERROR_TEXT),
                },
            },
            "delete": {
                "operationId": "replicateDeleteFile",
                "tags": FILE_TAGS,
                "summary": "Delete a file now: later requests for it answer 404",
                "parameters": [FILE_ID],
                "responses": {
                    "204": {"description": "Deleted."},
                    **errors(401, 404, 429, 455, 500, text=FILE_ERROR_TEXT),
                },
            },
        },
    }


def paths() -> dict:
    created = ok(prediction(), 201, "The prediction.")
    return {
        "/v1/models/{owner}/{name}/predictions": {
            "post": {
                "operationId": "replicateCreatePrediction",
                "tags": TAGS,
                "summary": "Create a prediction of a model (the replicate client's run)",
                "description": WAIT_TEXT,
                "parameters": [OWNER, NAME],
                "requestBody": create_body(version_required=False),
                "responses": {
                    **created,
                    **errors(400, 401, 402, 404, 413, 422, 429, 455, 500, 505),
                },
            }
        },
        "/v1/predictions": {
            "post": {
                "operationId": "replicateCreatePredictionOfVersion",
                "tags": TAGS,
                "summary": "Create a prediction of a model version",
                "description": WAIT_TEXT,
                "requestBody": create_body(version_required=True),
                "responses": {**created, **errors(400, 401, 402, 413, 422, 429, 455, 500, 505)},
            },
            "get": {
                "operationId": "replicateListPredictions",
                "tags": TAGS,
                "summary": "The team's predictions made through this contract, newest first",
                "parameters": [CURSOR],
                "responses": {**ok(page(prediction())), **errors(400, 401, 429, 455, 500)},
            },
        },
        "/v1/predictions/{prediction_id}": {
            "get": {
                "operationId": "replicateGetPrediction",
                "tags": TAGS,
                "summary": "A prediction",
                "parameters": [PREDICTION_ID],
                "responses": {**ok(prediction()), **errors(401, 404, 429, 455, 500)},
            }
        },
        "/v1/predictions/{prediction_id}/cancel": {
            "post": {
                "operationId": "replicateCancelPrediction",
                "tags": TAGS,
                "summary": "Cancel an unfinished prediction: nothing is charged",
                "parameters": [PREDICTION_ID],
                "responses": {**ok(prediction()), **errors(401, 404, 429, 455, 500)},
            }
        },
        "/v1/models/{owner}/{name}": {
            "get": {
                "operationId": "replicateGetModel",
                "tags": TAGS,
                "summary": "A model and its latest version's schema",
                "parameters": [OWNER, NAME],
                "responses": {
                    **ok(
                        obj(
                            ["url", "owner", "name", "visibility", "run_count", "latest_version"],
                            url=STRING,
                            owner=STRING,
                            name=STRING,
                            description=NULLABLE_STRING,
                            visibility={"type": "string", "enum": ["public", "private"]},
                            github_url=NULLABLE_STRING,
                            paper_url=NULLABLE_STRING,
                            license_url=NULLABLE_STRING,
                            run_count={"type": "integer"},
                            cover_image_url=NULLABLE_STRING,
                            default_example={"type": ["object", "null"]},
                            latest_version=version(),
                        )
                    ),
                    **errors(401, 404, 429, 455, 500),
                },
            }
        },
        "/v1/models/{owner}/{name}/versions": {
            "get": {
                "operationId": "replicateListModelVersions",
                "tags": TAGS,
                "summary": "A model's versions: its current one",
                "parameters": [OWNER, NAME],
                "responses": {**ok(page(version())), **errors(401, 404, 429, 455, 500)},
            }
        },
        "/v1/models/{owner}/{name}/versions/{version_id}": {
            "get": {
                "operationId": "replicateGetModelVersion",
                "tags": TAGS,
                "summary": "A model version",
                "parameters": [OWNER, NAME, path_param("version_id", "The version id.")],
                "responses": {**ok(version()), **errors(401, 404, 429, 455, 500)},
            }
        },
        "/v1/webhooks/default/secret": {
            "get": {
                "operationId": "replicateWebhookSecret",
                "tags": TAGS,
                "summary": "The key webhooks are signed with (Standard Webhooks)",
                "responses": {
                    **ok(obj(["key"], key={**STRING, "pattern": "^whsec_"})),
                    **errors(401, 429, 455, 500),
                },
            }
        },
        **file_paths(),
    }
