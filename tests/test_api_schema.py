"""schemathesis against our own OpenAPI document, over HTTP on the live server:
no 500s, and every response matches the schema it documents.

The document holds every contract (jobs, video generations, generateTask,
OpenAI videos, Replicate predictions and files). Each operation is tested
alone, then in sequences that follow the document's links from a create
call to the calls that take its id (createTask → recordInfo, POST /v1/videos
→ GET /v1/videos/{video_id}, a Replicate create → GET /v1/predictions/{id}…).

The checks that judge which *requests* should be accepted are left out: the
per-model rules (a prompt or an image, a mode that needs an end frame) go
beyond what a JSON Schema of the flat dialect bodies can say.
"""

import io
import re
from collections import Counter

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from playground.api.openapi import document
from tests.test_api_seed_examples import example


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (210, 40, 40)).save(out, format="PNG")
    return out.getvalue()


schema = schemathesis.openapi.from_dict(document())
EXCLUDED_CHECKS = [checks.positive_data_acceptance, checks.negative_data_rejection]

# Each create operation, and where its answer carries the new id.
CREATES = {
    "POST /api/v1/jobs/createTask": ("data", "taskId"),
    "POST /api/v1/video/generations": ("data", "taskId"),
    "POST /api/v1/generateTask/{model}": ("data", "taskId"),
    "POST /v1/videos": ("id",),
    "POST /v1/videos/{video_id}/remix": ("id",),
    "POST /v1/models/{owner}/{name}/predictions": ("id",),
    "POST /v1/predictions": ("id",),
    "POST /v1/files": ("id",),
}
# The links each create operation declares: create → status (and the other calls on its id).
LINKS = {
    "createTask": {"recordInfo", "cancelTask"},
    "createVideoGeneration": {"getVideoGeneration"},
    "generateTask": {"statusTask"},
    "openaiCreateVideo": {
        "openaiRetrieveVideo",
        "openaiDownloadVideoContent",
        "openaiRemixVideo",
        "openaiDeleteVideo",
    },
    "openaiRemixVideo": {
        "openaiRetrieveVideo",
        "openaiDownloadVideoContent",
        "openaiRemixVideo",
        "openaiDeleteVideo",
    },
    "replicateCreatePrediction": {"replicateGetPrediction", "replicateCancelPrediction"},
    "replicateCreatePredictionOfVersion": {"replicateGetPrediction", "replicateCancelPrediction"},
    "replicateCreateFile": {"replicateGetFile", "replicateDeleteFile"},
}


@schema.parametrize()
@hypothesis_settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_endpoint_answers_as_documented(case, live_server, transactional_db, alice_key):
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {alice_key}"},
        excluded_checks=EXCLUDED_CHECKS,
    )


def test_every_create_links_to_the_calls_on_its_id():
    operations = {
        operation["operationId"]: operation
        for item in document()["paths"].values()
        for operation in item.values()
    }
    declared = {}
    for operation_id, operation in operations.items():
        for response in operation["responses"].values():
            for name, link in response.get("links", {}).items():
                assert link["operationId"] in operations, f"{operation_id}: {name}"
                declared.setdefault(operation_id, set()).add(link["operationId"])
    assert declared == LINKS


def created_id(body: object, where: tuple[str, ...]) -> str | None:
    for key in where:
        body = body.get(key) if isinstance(body, dict) else None
    return body if isinstance(body, str) else None


def test_sequences_from_create_to_status_answer_as_documented(
    live_server, transactional_db, alice_key
):
    """Stateful: each scenario is a few calls, ids from earlier answers fed to later
    ones through the links; every answer is checked as the parametrized test checks it."""
    headers = {"Authorization": f"Bearer {alice_key}"}
    created: set[str] = set()
    followed: Counter[str] = Counter()

    class Sequences(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": live_server.url, "headers": headers}

        def after_call(self, response, case):
            super().after_call(response, case)
            label = case.operation.label
            if label in CREATES and response.status_code in (200, 201):
                new_id = created_id(response.json(), CREATES[label])
                if new_id:
                    created.add(new_id)
            elif 200 <= response.status_code < 300 and any(
                new_id in response.request.url for new_id in created
            ):
                followed[label] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=EXCLUDED_CHECKS,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Sequences.run(
        settings=hypothesis_settings(
            max_examples=30,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            phases=[Phase.generate],
        )
    )
    # The run made real resources. Whether it then followed a link depends on
    # which calls hypothesis drew (it did, when run alone); that every link
    # leads somewhere is the next test's, which follows each one.
    assert created, followed


# A valid call of each create operation whose links the next test follows,
# as (method, path, JSON body or multipart files).
VALID_CREATES = {
    "createTask": ("POST", "/api/v1/jobs/createTask", {"json": example("000_kling-v2-1.json")}),
    "createVideoGeneration": (
        "POST",
        "/api/v1/video/generations",
        {"json": example("002_kling-v2-6.json")},
    ),
    "generateTask": (
        "POST",
        "/api/v1/generateTask/kling-2-1",
        {"json": example("004_kling-2-1_master-text-to-video.json") | {"request_type": "async"}},
    ),
    "openaiCreateVideo": ("POST", "/v1/videos", {"json": {"prompt": "A fox in the snow"}}),
    "replicateCreatePrediction": (
        "POST",
        "/v1/models/kling/v2-1/predictions",
        {"json": {"input": {"prompt": "A fox in the snow"}}},
    ),
    "replicateCreateFile": (
        "POST",
        "/v1/files",
        {"files": {"content": ("frame.png", png(), "image/png")}},
    ),
}


# Links that answer only for a completed video (its content, a remix), and
# the delete, which would end the walk: nothing here finishes a video.
NEED_A_FINISHED_VIDEO = {"openaiDownloadVideoContent", "openaiRemixVideo", "openaiDeleteVideo"}


def operation(operation_id: str) -> tuple[str, str, dict]:
    for path, item in document()["paths"].items():
        for method, described in item.items():
            if described["operationId"] == operation_id:
                return method.upper(), path, described
    raise KeyError(operation_id)


def resolve(expression: str, request_path: dict[str, str], answer: dict) -> str:
    """An OpenAPI runtime expression of the two forms our links use."""
    if expression.startswith("$request.path."):
        return request_path[expression.removeprefix("$request.path.")]
    pointer = expression.removeprefix("$response.body#/")
    value = answer
    for part in pointer.split("/"):
        value = value[part]
    return value


def test_every_link_from_a_real_create_leads_to_an_answer(live_server, transactional_db, alice_key):
    """Each link of the creates above, followed by hand from a real answer: the
    linked call finds what the create made (2xx), and its answer matches its
    schema."""
    http = httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {alice_key}"}, timeout=30
    )
    followed = set()
    for create_id, (method, path, body) in VALID_CREATES.items():
        created = http.request(method, path, **body)
        assert created.status_code in (200, 201), (create_id, created.text[:300])
        _, template, described = operation(create_id)
        request_path = {
            segment.strip("{}"): part
            for segment, part in zip(template.split("/"), path.split("/"), strict=True)
            if segment.startswith("{")
        }
        links = described["responses"][str(created.status_code)]["links"]
        # The reads first, then the calls that cancel or delete what they read.
        ending = ("Cancel", "cancel", "Delete")
        for name, link in sorted(
            links.items(), key=lambda item: (any(w in item[1]["operationId"] for w in ending), item)
        ):
            if link["operationId"] in NEED_A_FINISHED_VIDEO:
                continue
            target_method, target_path, _ = operation(link["operationId"])
            values = {
                key: resolve(expression, request_path, created.json())
                for key, expression in (link.get("parameters") or link["requestBody"]).items()
            }
            in_path = {key: values.pop(key) for key in re.findall(r"{(\w+)}", target_path)}
            url = target_path.format(**in_path)
            if target_method == "GET":
                answer = http.get(url, params=values)
            else:
                answer = http.request(target_method, url, json=values or None)
            assert 200 <= answer.status_code < 300, (create_id, name, answer.text[:300])
            case = schema[target_path][target_method].Case(
                path_parameters=in_path, headers=dict(http.headers)
            )
            # The answer's schema, status and headers; not the checks that send
            # further requests of their own (ignored_auth would resend the cancel).
            case.validate_response(
                answer,
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                    checks.response_headers_conformance,
                ],
            )
            followed.add(link["operationId"])
    assert followed >= {"recordInfo", "getVideoGeneration", "statusTask"}
    assert followed >= {"openaiRetrieveVideo", "replicateGetPrediction", "replicateGetFile"}
