"""Kie.ai's own Veo 3.1 API (not its jobs contract): a flat body, successFlag in the record.

    POST {base}/api/v1/veo/generate  {prompt, model, aspect_ratio, generationType, imageUrls?}
                                     -> {code: 200, msg, data: {taskId}}
    GET  {base}/api/v1/veo/record-info?taskId=...
                                     -> data.successFlag 0 generating, 1 success
                                        (data.response.resultUrls), 2 failed, 3 generation
                                        failed (data.errorCode, data.errorMessage)
    GET  {base}/api/v1/chat/credit   -> data: the remaining credits (the credential check)

Sources: https://docs.kie.ai/veo3-api/generate-veo-3-video (fields, the model enum
veo3 | veo3_fast, generationType, aspect ratios 16:9 | 9:16 | Auto),
https://docs.kie.ai/veo3-api/get-veo-3-video-details and
https://docs.kie.ai/veo3-api/quickstart (successFlag 0-3, response.resultUrls),
https://docs.kie.ai/common-api/get-account-credits (the balance call and the code
enum: 401 key, 402 credits, 422 validation, 429, 455 maintenance, 501 failed).
Answers carry their own `code`, an HTTP 200 included: envelope.py reads it.

The aspect ratio goes as `aspect_ratio`, as the request examples of the Veo 3.1
generate page send it (https://old-docs.kie.ai/veo3-api/generate-veo-3-video, its
capability table too: "we recommend explicitly setting aspect_ratio"); the
parameter table and the older Veo 3 example spell it `aspectRatio`. Which spellings
Kie's server takes is not stated, so a row can choose the other with options
{"aspect_ratio_field": "aspectRatio"}.

google/veo-3-1 is Kie's `veo3` (Veo 3.1 Quality); map it to `veo3_fast` in the
row's model_map for the Fast tier. Kie documents no duration field, so none is
sent: the clip is as long as Kie makes it (8 s by default, by third-party
accounts), and a 5 s request may come back longer. callBackUrl is our wake-up URL
when PUBLIC_BASE_URL is set (wakeup.py): a callback only makes the poll due, and
record-info stays the source of truth for every Veo task. There is no cancel call.
"""

from __future__ import annotations

from typing import Any

from playground import catalog
from playground.models import Generation, Provider
from playground.providers.base import Outcome, SubmitRefused
from playground.providers.envelope import FAIL, RUNNING, SUCCESS, EnvelopeProvider
from playground.providers.upstream import Call

# Our aspect ratios Kie can make. It also takes "Auto" (the images decide), which
# no catalog model offers; any other ratio is refused before anything is sent.
ASPECT_RATIOS = {"16:9": "16:9", "9:16": "9:16"}
ASPECT_RATIO_FIELDS = ("aspect_ratio", "aspectRatio")
# Kie's optional `seeds` must lie in this range.
SEEDS = range(10000, 100000)
# Words in Kie's failure messages (its callback docs list content policy,
# unsafe image and image fetch failures under code 400).
MODERATION_WORDS = (
    "content policy",
    "policy violation",
    "violat",
    "unsafe",
    "sensitive",
    "moderation",
    "prohibited",
    "flagged",
)
IMAGE_WORDS = ("image fetch", "fetch image", "download image", "image download", "image url")


class KieVeoProvider(EnvelopeProvider):
    kind = Provider.KIE_VEO
    default_base_url = "https://api.kie.ai"
    models = {"google/veo-3-1": "veo3"}
    # successFlag is a number; state_word hands it over as text.
    states = {"0": RUNNING, "1": SUCCESS, "2": FAIL, "3": FAIL}

    def submit_call(self, generation: Generation, model: Any) -> Call:
        model_id = generation.model_id
        if model_id not in self.models and model_id not in self.row.model_map:
            raise SubmitRefused(
                f"Kie's Veo API does not make {model_id}, only "
                f"{', '.join(self.models)}; nothing was sent"
            )
        params = catalog.get_spec(model_id).render_params(generation.input)
        ratio = ASPECT_RATIOS.get(params["aspect_ratio"])
        if ratio is None:
            raise SubmitRefused(
                f"Kie's Veo API makes 16:9 or 9:16 videos, not {params['aspect_ratio']}; "
                "nothing was sent"
            )
        images = params["images"]
        if len(images) > 2:
            raise SubmitRefused(
                "Kie's Veo API takes at most 2 images (a first and a last frame); nothing was sent"
            )
        body: dict[str, Any] = {
            "prompt": params["prompt"],
            "model": model,
            self.aspect_ratio_field: ratio,
            # Named rather than inferred, so a mapping never lands in REFERENCE_2_VIDEO.
            "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO" if images else "TEXT_2_VIDEO",
        }
        if images:
            body["imageUrls"] = images
        seed = params["seed"]
        if isinstance(seed, int) and seed in SEEDS:
            body["seeds"] = seed
        if callback := self.callback_url(generation):
            body["callBackUrl"] = callback
        return Call("/api/v1/veo/generate", method="POST", json=body)

    @property
    def aspect_ratio_field(self) -> str:
        chosen = self.row.options.get("aspect_ratio_field")
        return chosen if chosen in ASPECT_RATIO_FIELDS else ASPECT_RATIO_FIELDS[0]

    def poll_call(self, generation: Generation, model: Any) -> Call:
        return Call("/api/v1/veo/record-info", params={"taskId": generation.upstream_ref})

    def state_word(self, data: dict[str, Any]) -> Any:
        flag = data.get("successFlag")
        if isinstance(flag, float) and flag.is_integer():
            flag = int(flag)
        return None if flag is None else str(flag)

    def succeeded(self, data: dict[str, Any], generation: Generation) -> Outcome:
        response = data.get("response")
        urls = response.get("resultUrls") if isinstance(response, dict) else None
        return self.result(generation, urls if isinstance(urls, list) else [urls])

    def failure(self, data: dict[str, Any]) -> Outcome:
        message = str(data.get("errorMessage") or "").strip()
        code = data.get("errorCode")
        text = message.lower()
        if any(word in text for word in MODERATION_WORDS):
            return self.failed(message, Generation.FailCode.CONTENT_VIOLATION, upstream_code=code)
        if any(word in text for word in IMAGE_WORDS):
            return self.failed(message, Generation.FailCode.INVALID_IMAGE_URL, upstream_code=code)
        return self.failed(message, upstream_code=code)
