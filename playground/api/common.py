"""The status calls' lookup of a generation by its task id (lookup.team_generation)."""

from config.prepared import PreparedQuery
from playground.models import Generation

# The status calls of every contract look a generation up this way, so the
# SQL is built once (config/prepared.py). By the unique task id alone, with
# no ORDER BY: the unique index is then the only plan. With the team in the
# WHERE clause too, PostgreSQL picked a team index and filtered the whole
# team's rows whenever its statistics were young (bench/README.md).
GENERATION_BY_TASK_ID = PreparedQuery(
    lambda task_id: Generation.objects.filter(task_id=task_id).order_by()[:1], task_id=str
)
