"""The video generations contract (seed 002): a flat body, resultUrls in the status itself.

POST {base}/api/v1/video/generations  {model, prompt, mode, duration, ...}  -> data.taskId
GET  {base}/api/v1/video/generations?task_id=...  -> data.state, resultUrls, failMsg
"""

from playground.models import Generation, Provider
from playground.providers.envelope import FAIL, RUNNING, SUCCESS, KieStyleProvider
from playground.providers.upstream import Call


class VideoGenerationsProvider(KieStyleProvider):
    kind = Provider.VIDEO_GENERATIONS
    states = {
        "pending": RUNNING,
        "processing": RUNNING,
        "completed": SUCCESS,
        "failed": FAIL,
    }

    def submit_call(self, generation: Generation, model: str) -> Call:
        # The contract has no `input` object: the fields sit beside `model`,
        # which is set last so that no input field can replace it.
        body = {**generation.input, "model": model}
        if callback := self.callback_url(generation):
            body["callback_url"] = callback
        return Call("/api/v1/video/generations", method="POST", json=body)

    def poll_call(self, generation: Generation, model: str) -> Call:
        return Call("/api/v1/video/generations", params={"task_id": generation.upstream_ref})
