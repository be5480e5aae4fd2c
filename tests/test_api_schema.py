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

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from playground.api.openapi import document

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
    # The links were followed: an id a create returned was asked for, and found.
    assert created and followed, (created, followed)
