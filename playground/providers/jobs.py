"""The jobs contract (seeds 000, 001, 003): Kie-style gateways, and another Reelgate.

POST {base}/api/v1/jobs/createTask  {model, input}   -> data.taskId
GET  {base}/api/v1/jobs/recordInfo?taskId=...        -> data.state, progress,
     resultJson (a JSON string: resultUrls, thumbnailUrl), failCode, failMsg
"""

from playground.models import Generation, Provider
from playground.providers.envelope import FAIL, RUNNING, SUCCESS, KieStyleProvider
from playground.providers.upstream import Call


class JobsProvider(KieStyleProvider):
    kind = Provider.JOBS
    states = {
        "waiting": RUNNING,
        "queuing": RUNNING,
        "generating": RUNNING,
        "success": SUCCESS,
        "fail": FAIL,
    }

    def submit_call(self, generation: Generation, model: str) -> Call:
        body = {"model": model, "input": generation.input}
        if callback := self.callback_url(generation):
            body["callBackUrl"] = callback
        return Call("/api/v1/jobs/createTask", method="POST", json=body)

    def poll_call(self, generation: Generation, model: str) -> Call:
        return Call("/api/v1/jobs/recordInfo", params={"taskId": generation.upstream_ref})
