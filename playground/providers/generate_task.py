"""The generateTask contract (seed 004): the model is part of both paths.

POST {base}/api/v1/generateTask/{model}  {request_type: "async", input}  -> data.taskId
GET  {base}/api/v1/statusTask/{model}?taskId=...  -> data.state,
     resultJson (a JSON string with resultUrls), failCode, failMsg
"""

from urllib.parse import quote

from playground.models import Generation, Provider
from playground.providers.envelope import FAIL, RUNNING, SUCCESS, KieStyleProvider
from playground.providers.upstream import Call


class GenerateTaskProvider(KieStyleProvider):
    kind = Provider.GENERATE_TASK
    states = {
        "pending": RUNNING,
        "processing": RUNNING,
        "success": SUCCESS,
        "failed": FAIL,
    }

    def submit_call(self, generation: Generation, model: str) -> Call:
        # "async": we poll; the callback mode would need a URL of ours the
        # upstream can reach.
        body = {"request_type": "async", "input": generation.input}
        if callback := self.callback_url(generation):
            body["callback_url"] = callback  # a wake-up only: we poll all the same
        return Call(f"/api/v1/generateTask/{_segment(model)}", method="POST", json=body)

    def poll_call(self, generation: Generation, model: str) -> Call:
        return Call(
            f"/api/v1/statusTask/{_segment(model)}", params={"taskId": generation.upstream_ref}
        )


def _segment(model: str) -> str:
    # One path segment whatever the admin mapped the model to ("vendor/name" too).
    return quote(model, safe="")
