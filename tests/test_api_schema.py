"""schemathesis against our own OpenAPI document, over HTTP on the live server:
no 500s, and every response matches the schema it documents.

The checks that judge which *requests* should be accepted are left out: the
per-model rules (a prompt or an image, a mode that needs an end frame) go
beyond what a JSON Schema of the flat dialect bodies can say.
"""

import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from playground.api.openapi import document

schema = schemathesis.openapi.from_dict(document())


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
        excluded_checks=[checks.positive_data_acceptance, checks.negative_data_rejection],
    )
