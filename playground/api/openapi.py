"""GET /api/openapi.json: the document assembled from the contracts' own paths.

Each contract module describes its endpoints (`paths()`); the jobs contract
also gives the components they reference (its envelope and errors, and each
model's input schema from the catalog). Nothing is described here.
"""

from typing import Any

from django.http import HttpRequest, JsonResponse

from playground.contracts import generate_task, jobs, openai, replicate, video_generations
from playground.contracts.wire import request_base_url

SECURITY_SCHEMES = {"BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "API key"}}


def components() -> dict[str, Any]:
    return {**jobs.components(), "securitySchemes": SECURITY_SCHEMES}


def contract_paths() -> dict[str, Any]:
    return {
        **jobs.paths(),
        **video_generations.paths(),
        **generate_task.paths(),
        **jobs.upload_paths(),
        **openai.paths(),
        **replicate.paths(),
    }


def document(base_url: str = "", *, paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fresh OpenAPI 3.1 document; `paths` adds to (or replaces) the contracts' own."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Reelgate API",
            "version": "1.0.0",
            "description": "Asynchronous video generation. Every model's input schema is "
            "derived from the same spec the server validates with.",
        },
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "security": [{"BearerAuth": []}],
        "tags": [{"name": "jobs", "description": "createTask / recordInfo"}],
        "paths": {**contract_paths(), **(paths or {})},
        "components": components(),
    }


def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        document(request_base_url(request)), json_dumps_params={"ensure_ascii": False}
    )
