"""The jobs contract (seeds 000, 001, 003): Kie-style gateways, and another Reelgate.

POST {base}/api/v1/jobs/createTask  {model, input}   -> data.taskId
GET  {base}/api/v1/jobs/recordInfo?taskId=...        -> data.state, progress,
     resultJson (a JSON string: resultUrls, thumbnailUrl), failCode, failMsg
"""

from playground.models import Generation, Provider
from playground.providers.upstream import FAIL, RUNNING, SUCCESS, Call, UpstreamProvider


class JobsProvider(UpstreamProvider):
    kind = Provider.JOBS
    states = {
        "waiting": RUNNING,
        "queuing": RUNNING,
        "generating": RUNNING,
        "success": SUCCESS,
        "fail": FAIL,
    }

    def submit_call(self, generation: Generation, model: str) -> Call:
        return Call("/api/v1/jobs/createTask", json={"model": model, "input": generation.input})

    def poll_call(self, generation: Generation, model: str) -> Call:
        return Call("/api/v1/jobs/recordInfo", params={"taskId": generation.upstream_ref})
