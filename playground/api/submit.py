"""The one hand-off from a contract's create call to the submit service."""

from django.http import HttpRequest

from playground import services
from playground.contracts.wire import Submission, request_base_url
from playground.models import Generation

# Longer Idempotency-Key headers are cut to this, the column's length.
IDEMPOTENCY_KEY_LENGTH = 200


def submit_from(
    request: HttpRequest,
    submission: Submission,
    *,
    contract: str,
    remixed_from: Generation | None = None,
) -> Generation:
    """Submit what a contract read from the request, for the caller's API key.

    The key's unfinished-task limit is counted by services.submit, under the
    lock its credit hold takes; the Idempotency-Key header makes a retried
    create return the first one's generation; the base URL is where its
    callbacks and result links point when no PUBLIC_BASE_URL is set.
    """
    return services.submit(
        user=request.user,
        model=submission.model,
        input=submission.input,
        contract=contract,
        api_key=request.api_key,
        callback_url=submission.callback_url,
        base_url=request_base_url(request),
        request=submission.request,
        idempotency_key=request.headers.get("Idempotency-Key", "")[:IDEMPOTENCY_KEY_LENGTH],
        remixed_from=remixed_from,
    )
