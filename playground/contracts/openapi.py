"""The pieces every contract's OpenAPI `paths()` is built from.

api/openapi.py assembles the document: the paths of each contract module,
the components they reference (the jobs contract's envelope and errors, the
catalog's JSON Schema per model) and the security scheme.
"""

from typing import Any

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
NULLABLE_INTEGER = {"type": ["integer", "null"]}
NUMBER = {"type": "number"}
MOMENT = {"type": "string", "format": "date-time"}
NULLABLE_MOMENT = {"type": ["string", "null"], "format": "date-time"}


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def obj(required: list[str], **properties: Any) -> dict:
    return {"type": "object", "required": required, "properties": properties}


def json_content(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema, **extra}}


def json_body(schema: dict, example: Any = None) -> dict:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"required": True, "content": {"application/json": content}}


def ok(schema: dict, status: int = 200, description: str = "Success.") -> dict:
    """A JSON success response, keyed by its status."""
    return {str(status): {"description": description, "content": json_content(schema)}}


def query(name: str, description: str, required: bool = True) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": STRING,
        "description": description,
    }


def path_param(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": STRING,
        "description": description,
    }


def link(
    operation_id: str,
    description: str,
    *,
    parameters: dict[str, str] | None = None,
    request_body: Any = None,
) -> dict[str, Any]:
    """An OpenAPI link: how a response's values fill a later call (create → status).

    Values are runtime expressions, e.g. `$response.body#/id` or `$request.path.model`.
    Clients and testers (schemathesis' stateful tests) follow them.
    """
    answer: dict[str, Any] = {"operationId": operation_id, "description": description}
    if parameters:
        answer["parameters"] = parameters
    if request_body is not None:
        answer["requestBody"] = request_body
    return answer


def with_links(responses: dict[str, Any], status: int, **links: dict[str, Any]) -> dict[str, Any]:
    """`responses` with `links` on the response of `status`."""
    key = str(status)
    return {**responses, key: {**responses[key], "links": links}}
