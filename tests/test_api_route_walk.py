"""Every API route, found by walking the URL configuration, answers bad requests with
its contract's 4xx: never a 500, never another team's data.

The routes come from Django's resolver, not from a list kept by hand: each one
must be in ROUTES (an API route: its contract, and what each method takes) or
in NOT_API (pages, admin, media, docs, upstream callbacks, probes, metrics), so a route added
later without an entry fails here, by name, and so does one the OpenAPI
document leaves out. Each API route then gets, per method: no key, a bad
key, a method it does not take, and where they apply another team's id, an
id no database could hold, a body over the limit, malformed JSON and the
wrong content type. alice asks throughout; carol, of another team, owns the
generations and the file whose ids and prompt must never come back, and
that must stay as they were.
"""

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from PIL import Image

from playground import catalog, services, uploads
from playground.api.openapi import document
from playground.models import Generation, Upload

CAROL_PROMPT = "carol's secret storyboard: a violet heron at the lighthouse"
CAROL_FILE_NAME = "carol-secret-heron.png"
# Shaped as real ids are, and never issued.
UNKNOWN_TASK_ID = "gen_aaaaaaaaaaaaaaaaaaaaaaaa"
UNKNOWN_FILE_ID = "AAAAAAAAAAAAAAAAAAAAAAAA"
SMALL_LIMIT = 64 * 1024
MODEL = "kling/v2-1"


# -- each contract's error envelope -------------------------------------------


def kie(response: HttpResponse) -> str:
    """The jobs envelope {code, msg, data}, its code the HTTP status; its message."""
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert set(body) == {"code", "msg", "data"}, body
    assert body["code"] == response.status_code, body
    assert isinstance(body["msg"], str) and body["msg"], body
    return body["msg"]


def openai(response: HttpResponse) -> str:
    """OpenAI's {"error": {message, type, param, code}}; its message."""
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    return error["message"]


def replicate(response: HttpResponse) -> str:
    """Replicate's problem details (application/problem+json); its detail."""
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = response.json()
    assert body["status"] == response.status_code, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    return body["detail"]


# -- the table of API routes -------------------------------------------------

# Where an operation reads the id of a generation or a file.
PATH, QUERY, BODY = "path", "query", "body"
# What body an operation reads.
JSON, FORM, JSON_OR_FORM = "json", "multipart", "json or multipart"


@dataclass(frozen=True)
class Op:
    """What one method of a route reads."""

    body: str | None = None
    # (where, name) of the id it takes, and whose: a generation's or a file's.
    id: tuple[str, str] | None = None
    file_id: bool = False
    # The status of a body over the limit, where the route has a limit of its own.
    too_large: int = 413


@dataclass(frozen=True)
class Route:
    envelope: Callable[[HttpResponse], str]
    ops: dict[str, Op]
    # The URL's other parameters.
    kwargs: dict[str, str] = field(default_factory=dict)


def kie_route(kwargs: dict | None = None, **ops: Op) -> Route:
    return Route(kie, ops, kwargs or {})


def openai_route(**ops: Op) -> Route:
    return Route(openai, ops)


def replicate_route(kwargs: dict | None = None, **ops: Op) -> Route:
    return Route(replicate, ops, kwargs or {})


MODEL_KWARGS = {"model": MODEL}
OWNER_NAME = {"owner": "kling", "name": "v2-1"}

ROUTES: dict[str, Route] = {
    # jobs (seeds 000, 001, 003) and its uploads
    "jobs-create": kie_route(POST=Op(JSON)),
    "jobs-record": kie_route(GET=Op(id=(QUERY, "taskId"))),
    "jobs-cancel": kie_route(POST=Op(JSON, id=(BODY, "taskId"))),
    "chat-credit": kie_route(GET=Op()),
    "account-credits": kie_route(GET=Op()),
    "file-stream-upload": kie_route(POST=Op(FORM)),
    # Its limit is the image limit, past Django's: a base64 image is large.
    "file-base64-upload": kie_route(POST=Op(JSON, too_large=422)),
    "file-url-upload": kie_route(POST=Op(JSON)),
    # video generations (seed 002)
    "video-generations": kie_route(GET=Op(id=(QUERY, "task_id")), POST=Op(JSON)),
    # generateTask (seed 004)
    "generate-task": kie_route(MODEL_KWARGS, POST=Op(JSON)),
    "status-task": kie_route(MODEL_KWARGS, GET=Op(id=(QUERY, "taskId"))),
    # OpenAI videos
    "openai-videos": openai_route(GET=Op(id=(QUERY, "after")), POST=Op(JSON_OR_FORM)),
    "openai-video": openai_route(GET=Op(id=(PATH, "video_id")), DELETE=Op(id=(PATH, "video_id"))),
    "openai-video-content": openai_route(GET=Op(id=(PATH, "video_id"))),
    "openai-video-remix": openai_route(POST=Op(JSON_OR_FORM, id=(PATH, "video_id"))),
    # Replicate predictions and files
    "replicate-model-predictions": replicate_route(OWNER_NAME, POST=Op(JSON)),
    "replicate-model": replicate_route(OWNER_NAME, GET=Op()),
    "replicate-versions": replicate_route(OWNER_NAME, GET=Op()),
    "replicate-version": replicate_route(
        {**OWNER_NAME, "version_id": catalog.get_spec(MODEL).version}, GET=Op()
    ),
    "replicate-predictions": replicate_route(GET=Op(), POST=Op(JSON)),
    "replicate-prediction": replicate_route(GET=Op(id=(PATH, "prediction_id"))),
    "replicate-cancel": replicate_route(POST=Op(id=(PATH, "prediction_id"))),
    "replicate-webhook-secret": replicate_route(GET=Op()),
    "replicate-files": replicate_route(GET=Op(), POST=Op(FORM)),
    "replicate-file": replicate_route(
        GET=Op(id=(PATH, "file_id"), file_id=True), DELETE=Op(id=(PATH, "file_id"), file_id=True)
    ),
}

# Routes that are not the key-authenticated API: they have tests of their own.
NOT_API_NAMESPACES = {"admin"}
NOT_API = {
    # sign-in, result files, the OpenAPI document and the docs pages
    "login",
    "logout",
    "media",
    "openapi",
    "docs",
    "docs-model",
    # upstreams call it with a token in the path, not a key
    "upstream-callback",
    # operators' probes (tests/test_health.py) and Prometheus's scrape with
    # its own token (tests/test_metrics.py)
    "healthz",
    "readyz",
    "metrics",
    # browser pages
    "home",
    "model-validate",
    "model",
    "upload",
    "generation",
    "generation-status",
    "run-again",
    "cancel",
    "generation-delete",
    "gallery",
    "gallery-download",
    "gallery-delete",
    "favourite",
    "usage",
    "usage-export",
    "account",
    "export-ledger",
    "create-key",
    "revoke-key",
    "team",
    "team-invite",
    "team-invitation-revoke",
    "team-member-role",
    "team-member-remove",
    "team-key-revoke",
    "team-audit",
    "team-budgets",
    "team-member-budget",
    "team-key-budget",
    "team-budget-remove",
    "team-grant",
    # an invitation link: its token in the path is the capability
    "join",
    "webhooks",
    "webhook-endpoint-create",
    "webhook-endpoint-delete",
    "webhook-endpoint-toggle",
    "webhook-endpoint-test",
    "webhook-secret",
    "webhook-secret-rotate",
    "webhook-deliveries",
    "webhook-redeliver",
}


def url_patterns(
    resolver: URLResolver, prefix: str = "", namespace: str | None = None
) -> Iterator[tuple[str, str | None, str | None]]:
    """(route, name, namespace) of every pattern under `resolver`, included ones too."""
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern, route, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.name, namespace


def api_route_names() -> list[str]:
    return [
        name
        for _, name, namespace in url_patterns(get_resolver())
        if namespace is None and name in ROUTES
    ]


def test_every_route_is_in_the_api_table_or_named_as_not_api():
    unclassified, seen = [], set()
    for route, name, namespace in url_patterns(get_resolver()):
        if namespace in NOT_API_NAMESPACES:
            continue
        seen.add(name)
        if name is None:
            unclassified.append(f"/{route} (no name: give it one)")
        elif name not in ROUTES and name not in NOT_API:
            unclassified.append(f"{name} (/{route})")
    assert not unclassified, (
        "routes with no entry in ROUTES (API: contract and methods) or NOT_API: "
        + ", ".join(unclassified)
    )
    stale = sorted((set(ROUTES) | NOT_API) - seen)
    assert not stale, f"entries for routes the URL configuration no longer has: {stale}"


def test_the_openapi_document_describes_every_api_route_and_method_and_no_other():
    """So the schemathesis tests (test_api_schema.py), which walk the document, reach
    every contract's every operation."""
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", f"/{route}"), method.lower())
        for route, name, namespace in url_patterns(get_resolver())
        if namespace is None and name in ROUTES
        for method in ROUTES[name].ops
    }
    described = {
        (path, method) for path, operations in document()["paths"].items() for method in operations
    }
    assert sorted(routes - described) == [], "API operations the document leaves out"
    assert sorted(described - routes) == [], "documented operations no API route serves"


# -- the cases ---------------------------------------------------------------

NO_KEY, BAD_KEY, WRONG_METHOD = "no-key", "bad-key", "wrong-method"
OTHER_TEAM, ODD_ID = "other-teams-id", "odd-id"
TOO_LARGE, MALFORMED, WRONG_TYPE = "body-over-limit", "malformed-json", "wrong-content-type"


def cases() -> Iterator:
    for name in api_route_names():
        route = ROUTES[name]
        yield pytest.param(name, sorted(route.ops)[0], WRONG_METHOD, id=f"{name}-{WRONG_METHOD}")
        for method, op in route.ops.items():
            applicable = [NO_KEY, BAD_KEY]
            if op.id:
                applicable += [OTHER_TEAM, ODD_ID]
            if op.body:
                applicable += [TOO_LARGE, WRONG_TYPE]
            if op.body in (JSON, JSON_OR_FORM):
                applicable.append(MALFORMED)
            for case in applicable:
                yield pytest.param(name, method, case, id=f"{name}-{method}-{case}")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 40, 160)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class World:
    alice_key: str
    alice_task: str
    alice_file: str
    carol_tasks: list[str]
    carol_file: str

    def carol_marks(self) -> list[str]:
        return [CAROL_PROMPT, CAROL_FILE_NAME, self.carol_file, *self.carol_tasks]


@pytest.fixture
def world(alice, carol, alice_key, settings) -> World:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = SMALL_LIMIT
    settings.UPLOAD_MAX_IMAGE_MB = 1

    def generation(user, prompt: str, contract: str) -> str:
        return services.submit(
            user=user, model=MODEL, input={"prompt": prompt}, contract=contract
        ).task_id

    def upload(user, name: str) -> str:
        return uploads.store_upload(user, io.BytesIO(png()), original_name=name).file_id

    return World(
        alice_key=alice_key,
        alice_task=generation(alice, "alice's lighthouse at dusk", "openai"),
        alice_file=upload(alice, "alice.png"),
        carol_tasks=[
            generation(carol, CAROL_PROMPT, contract) for contract in ("openai", "replicate")
        ],
        carol_file=upload(carol, CAROL_FILE_NAME),
    )


def request(
    client: Client,
    name: str,
    method: str,
    op: Op,
    *,
    key: str | None,
    ident: str | None = None,
    body: bytes | dict | None = None,
    content_type: str = "application/json",
) -> HttpResponse:
    """`method` on the route `name`, as `op` reads it, with alice's or no key; its id
    (where it takes one) `ident`, else one never issued. A dict body goes as multipart."""
    kwargs, query = dict(ROUTES[name].kwargs), {}
    if op.id:
        where, param = op.id
        if ident is None:
            ident = UNKNOWN_FILE_ID if op.file_id else UNKNOWN_TASK_ID
        if where == PATH:
            kwargs[param] = ident
        elif where == QUERY:
            query[param] = ident
        elif body is None:
            body = json.dumps({param: ident}).encode()
    if isinstance(body, dict):
        body, content_type = encode_multipart(BOUNDARY, body), MULTIPART_CONTENT
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return client.generic(
        method,
        reverse(name, kwargs=kwargs),
        body or b"",
        content_type=content_type,
        headers=headers,
        query_params=query,
    )


def oversized_form() -> dict:
    """A multipart body with an image in each form route's file field, and a text
    field alone over DATA_UPLOAD_MAX_MEMORY_SIZE."""
    image = png()
    files = {
        part: SimpleUploadedFile("cat.png", image, content_type="image/png")
        for part in ("file", "content")
    }
    return {**files, "prompt": "x" * (SMALL_LIMIT + 1024)}


def oversized_json(op: Op) -> bytes:
    """A JSON body over DATA_UPLOAD_MAX_MEMORY_SIZE, or over the route's own limit
    (base64 uploads: UPLOAD_MAX_IMAGE_MB, 1 MB here, as base64)."""
    size = SMALL_LIMIT + 1024 if op.too_large == 413 else 800 * 1024
    return json.dumps({"model": MODEL, "prompt": "x" * size, "base64Data": "A" * size}).encode()


def some_json(world: World) -> bytes:
    """A body most JSON routes would take, had it come with the right content type."""
    return json.dumps(
        {
            "model": MODEL,
            "prompt": "a paper boat",
            "input": {"prompt": "a paper boat"},
            "taskId": world.alice_task,
        }
    ).encode()


@pytest.mark.parametrize(("name", "method", "case"), list(cases()))
def test_every_api_route_answers_bad_requests_in_its_contracts_envelope(
    client, world, name, method, case
):
    route, op = ROUTES[name], ROUTES[name].ops[method]
    # alice's key and her own id unless the case says otherwise.
    key: str | None = world.alice_key
    ident = world.alice_file if op.file_id else world.alice_task
    body: bytes | dict | None = None
    content_type = "application/json"
    expected: set[int] = set()
    if case == NO_KEY:
        key, expected = None, {401}
    elif case == BAD_KEY:
        key, expected = "rg_live_not-a-key-at-all", {401}
    elif case == WRONG_METHOD:
        method, expected = "PUT", {405}
    elif case == OTHER_TEAM:
        ident = world.carol_file if op.file_id else world.carol_tasks[0]
        expected = {400, 404}
    elif case == ODD_ID:
        # PostgreSQL refuses a NUL in a query parameter with an error, not "no rows".
        ident, expected = "gen_\x00é" + "x" * 300, {400, 404}
    elif case == TOO_LARGE:
        body = oversized_form() if op.body == FORM else oversized_json(op)
        expected = {op.too_large}
    elif case == MALFORMED:
        body, expected = b'{"model": "kling/v2-1", "prompt": ', {400}
    elif case == WRONG_TYPE:
        if op.body == FORM:
            body, expected = some_json(world), {400}
        else:
            body, content_type, expected = some_json(world), "text/plain", {400}

    response = request(
        client, name, method, op, key=key, ident=ident, body=body, content_type=content_type
    )

    assert response.status_code in expected, (response.status_code, response.content[:300])
    message = route.envelope(response)
    if case == WRONG_METHOD:
        assert set(response["Allow"].split(", ")) == set(route.ops)
    if case == WRONG_TYPE:
        wanted = "multipart/form-data" if op.body == FORM else "application/json"
        assert wanted in message, message
    if case == OTHER_TEAM:
        # Indistinguishable from an id that was never issued, but for the id itself.
        unknown = UNKNOWN_FILE_ID if op.file_id else UNKNOWN_TASK_ID
        never = request(client, name, method, op, key=key, ident=unknown)
        assert never.status_code == response.status_code
        assert never.content.replace(unknown.encode(), ident.encode()) == response.content
        assert_carol_untouched(world)
    else:
        assert_no_carol(world, response)


def assert_no_carol(world: World, response: HttpResponse) -> None:
    text = response.content.decode(errors="replace")
    leaked = [mark for mark in world.carol_marks() if mark in text]
    assert not leaked, f"another team's data in the answer: {leaked}"


def assert_carol_untouched(world: World) -> None:
    rows = Generation.objects.filter(task_id__in=world.carol_tasks)
    assert [row.state for row in rows] == [Generation.QUEUING] * len(world.carol_tasks)
    assert not rows.filter(deleted_at__isnull=False).exists()
    assert Upload.objects.filter(file_id=world.carol_file).exists()
    assert not Generation.objects.filter(remixed_from__task_id__in=world.carol_tasks).exists()


def list_operations() -> list:
    return [
        pytest.param(name, id=name)
        for name in api_route_names()
        if "GET" in ROUTES[name].ops and ROUTES[name].ops["GET"].id is None
    ]


@pytest.mark.parametrize("name", list_operations())
def test_what_a_route_lists_for_alice_holds_nothing_of_carols(client, world, name):
    response = request(client, name, "GET", ROUTES[name].ops["GET"], key=world.alice_key)
    assert response.status_code == 200, response.content[:300]
    assert_no_carol(world, response)
