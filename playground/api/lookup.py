"""The one way a view finds the caller's team's generation by its task id."""

from collections.abc import Callable

from django.http import HttpRequest

from playground.contracts.errors import ApiError
from playground.contracts.wire import plausible_id
from playground.models import Generation


def team_generation(
    request: HttpRequest,
    task_id: str,
    not_found: Callable[[str], ApiError],
    *,
    include_deleted: bool = True,
) -> Generation:
    """The team's generation with this id, whichever contract made it.

    Anything else raises the contract's `not_found(task_id)`: an unknown id,
    another team's (404, never 403), and a deleted one unless `include_deleted`
    (OpenAI's DELETE keeps the row, as the record of what was made and charged).
    """
    # By the unique task id alone, with no ORDER BY (get() leaves the model's
    # ordering out): the unique index is then the only plan. With the team in
    # the WHERE clause too, PostgreSQL picked a team index and filtered the
    # whole team's rows whenever its statistics were young (bench/README.md).
    # The team comes from the key's record, so a status call reads no user.
    try:
        generation = Generation.objects.get(task_id=task_id) if plausible_id(task_id) else None
    except Generation.DoesNotExist:
        generation = None
    if (
        generation is None
        or generation.team_id != request.api_key.team_id
        or (generation.deleted_at is not None and not include_deleted)
    ):
        raise not_found(task_id)
    return generation
