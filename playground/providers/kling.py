"""Kling's official API, legacy standard: `/v1/videos/{endpoint}`, the model in `model_name`.

Sources, Kling's developer docs (app.klingai.com/global/dev/document-api/...):
- apiReference/commonInfo: base URL https://api-singapore.klingai.com (api-beijing in
  China, so a base URL per row); the JWT (HS256 with the secret key, claims exactly iss =
  access key, exp = now + 1800, nbf = now - 5) sent as `Authorization: Bearer`; errors as
  {code, message, request_id} with the HTTP status of its error table (401 1000-1004,
  429 1100-1102 account and balance, 400 1301 content safety, 429 1302/1303 limits, 5xxx).
- apiReference/model/textToVideo, imageToVideo, motionControl: the create bodies
  (external_task_id our own id); `GET /v1/videos/{endpoint}/{id}` where the id is the task_id
  or the external_task_id, "filled directly in the request path"; task_status submitted /
  processing / succeed / failed, task_status_msg, task_result.videos[].url, and
  final_unit_deduction (resource-pack units, not money). No cancel call is documented.
- apiReference/model/skillsMap: kling-v2-1 is image-to-video only, the master models take
  no mode, sound needs kling-v2-6 or later, and "kling-v2.x models do not support" cfg_scale.
- apiReference/accountInfoInquiry: `GET /account/costs?start_time&end_time` (ms), free.
- kling.ai/document-api/api/get-started/authentication: a plain API key works beside the
  access/secret keys, sent the same way. Kuaishou's own client, KwaiVGI/ComfyUI-KLingAI-API
  py/api/client.py, mints the same JWT.

Credentials: {"access_key", "secret_key"}, or {"api_key"}.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt

from playground.models import Generation, Provider
from playground.providers.base import CheckFailed, Outcome, PollError, Running, SubmitRefused
from playground.providers.upstream import Ambiguous, Answer, Call, UpstreamProvider

TEXT, IMAGE, MOTION = "text2video", "image2video", "motion-control"
ENDPOINTS = (TEXT, IMAGE, MOTION)

# The documented token: valid 30 minutes from 5 s ago. It is renewed when
# fewer than RENEW_BEFORE seconds remain, so no request leaves with a token
# that may expire on the way (Kling answers 1004 for an expired one).
TOKEN_LIFETIME = 1800
RENEW_BEFORE = 300
_tokens: dict[tuple[str, str], tuple[str, int]] = {}
_tokens_lock = threading.Lock()

NO_CREDENTIALS = "Kling needs credentials: set access_key and secret_key (or api_key)"
# Kling's business codes as the HTTP statuses its error table pairs them with,
# for a code that arrives in a 2xx answer.
STATUS_OF_CODE = {1103: 403, 1202: 404, 1203: 404, 5001: 503, 5002: 504}
MEANINGS = {
    1100: "the Kling account is in an abnormal state",
    1101: "the Kling account is out of balance (in arrears)",
    1102: "the Kling account is out of balance (its resource packs are used up or expired)",
    1103: "the Kling account may not use this model or API",
    1301: "Kling's content safety policy blocked the input",
    1302: "Kling's rate limit was hit",
    1303: "Kling's parallel task limit was reached",
    1304: "Kling's IP whitelist refused this server",
}
RATE_LIMITS = frozenset({1302, 1303})
# Kling asks for a back-off of at least 1 s after 1303 when it names no pace.
RATE_LIMIT_BACKOFF = 1.0
# Older models make no sound ("only V2.6 and later models").
SILENT_MODELS = ("kling-v1", "kling-v2-master", "kling-v2-1", "kling-v2-5")
TEXT_ASPECT_RATIOS = ("16:9", "9:16", "1:1")
# A motion reference may run 10 s when the character keeps the image's
# orientation, 30 s when it follows the video's.
IMAGE_ORIENTATION_MAX_SECONDS = 10
SAFETY_WORDS = re.compile(r"safety|sensitive|risk|moderat|violat|inappropriate|security polic")
IMAGE_WORDS = re.compile(r"image|picture")


def bearer_token(access_key: str, secret_key: str, now: float | None = None) -> str:
    """The JWT Kling's docs describe, cached per key pair across threads until near expiry."""
    now = int(time.time() if now is None else now)
    # The secret's digest is part of the key: a corrected secret key takes
    # effect at once instead of after the old token expires.
    key = (access_key, hashlib.sha256(secret_key.encode()).hexdigest())
    with _tokens_lock:
        cached = _tokens.get(key)
        if cached is not None and cached[1] - now >= RENEW_BEFORE:
            return cached[0]
        claims = {"iss": access_key, "exp": now + TOKEN_LIFETIME, "nbf": now - 5}
        token = jwt.encode(claims, secret_key, algorithm="HS256", headers={"typ": "JWT"})
        _tokens[key] = (token, now + TOKEN_LIFETIME)
        return token


def kling_code(answer: Answer) -> int:
    """The envelope's business code; 0 (success) when absent, so its data decides."""
    value = answer.object.get("code", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def status_of(code: int) -> int:
    """The HTTP status Kling's error table gives a business code."""
    if code in STATUS_OF_CODE:
        return STATUS_OF_CODE[code]
    if 1000 <= code < 1100:
        return 401
    if 1100 <= code < 1200 or code in RATE_LIMITS or code == 1304:
        return 429
    return 500 if code >= 5000 else 400


def endpoint_for(input: dict[str, Any]) -> str:
    if input.get("motion_video"):
        return MOTION
    return IMAGE if images_of(input) else TEXT


def images_of(input: dict[str, Any]) -> list[str]:
    """The input's image URLs in order: the start frame, then the end frame."""
    found: list[str] = []
    for name in ("image", "image_url", "image_urls"):
        value = input.get(name)
        found += value if isinstance(value, list) else [value] if value else []
    return found


class KlingProvider(UpstreamProvider):
    kind = Provider.KLING
    asynchronous = True
    default_base_url = "https://api-singapore.klingai.com"
    # Our catalog id -> model_name per endpoint. "master": kling-2-1's master-*
    # modes; "mode": a tier the catalog model is fixed to. An admin's model_map
    # may give one model_name for every endpoint instead.
    models = {
        "kling/v2-1": {TEXT: "kling-v2-1-master"},
        "kling/v2-1-standard": {IMAGE: "kling-v2-1", "mode": "std"},
        "kling-2-1": {
            TEXT: "kling-v2-1-master",
            IMAGE: "kling-v2-1",
            "master": "kling-v2-1-master",
        },
        "kling-v2-6": {TEXT: "kling-v2-6", IMAGE: "kling-v2-6"},
        "kling-v3": {TEXT: "kling-v3", IMAGE: "kling-v3"},
        "kling-motion-control": {MOTION: {"2.6": "kling-v2-6", "3.0": "kling-v3"}},
    }
    id_name = "task_id"

    def __init__(self, row: Provider):
        super().__init__(row)
        # Every token this instance sent: one renewed meanwhile may still be echoed back.
        self.tokens_sent: set[str] = set()

    # Credentials

    def token(self) -> str | None:
        credentials = self.row.credentials
        access, secret = credentials.get("access_key", ""), credentials.get("secret_key", "")
        if access and secret:
            return bearer_token(access, secret)
        return credentials.get("api_key") or None

    def auth_headers(self) -> dict[str, str]:
        token = self.token()
        if token is None:
            return {}
        self.tokens_sent.add(token)
        return {"Authorization": f"Bearer {token}"}

    def secrets(self) -> list[str]:
        return [*super().secrets(), *self.tokens_sent, *filter(None, [self.token()])]

    # Submit

    def submit_call(self, generation: Generation, model: Any) -> Call:
        if self.token() is None:
            raise SubmitRefused(NO_CREDENTIALS)
        if generation.model_id not in self.models and generation.model_id not in self.row.model_map:
            raise SubmitRefused(
                f"Kling's API does not offer {generation.model_id}; nothing was sent "
                "(an admin may map it to a Kling model_name in this provider's model map)"
            )
        input, endpoint = generation.input, endpoint_for(generation.input)
        name, mode = self.model_and_mode(generation.model_id, model, endpoint, input)
        body: dict[str, Any] = {"model_name": name}
        if input.get("prompt"):
            body["prompt"] = input["prompt"]
        if endpoint == MOTION:
            body.update(self.motion_fields(input, mode))
        else:
            body.update(self.video_fields(input, endpoint, name, mode))
        # Our id travels with the task: after a lost answer it is found by it.
        body["external_task_id"] = generation.task_id
        if callback := self.callback_url(generation):
            body["callback_url"] = callback
        return Call(f"/v1/videos/{endpoint}", method="POST", json=body)

    def model_and_mode(
        self, model_id: str, model: Any, endpoint: str, input: dict[str, Any]
    ) -> tuple[str, str | None]:
        entry = model if isinstance(model, dict) else {}
        name: Any = entry.get(endpoint) if entry else model
        mode = input.get("mode") or entry.get("mode")
        if isinstance(mode, str) and "-" in mode:  # kling-2-1: standard-*, pro-*, master-*
            tier = mode.split("-", 1)[0]
            mode = {"standard": "std", "pro": "pro"}.get(tier)
            if tier == "master":
                name = entry.get("master", name) if entry else name
        if endpoint == MOTION:
            if isinstance(name, dict):
                name = name.get(str(input.get("version", "2.6")))
            # Motion control has no resolution field: std renders 720p, pro 1080p.
            mode = "pro" if input.get("resolution") == "1080p" else "std"
        if not isinstance(name, str) or not name:
            raise SubmitRefused(
                f"no Kling model_name for {model_id} on {endpoint}; nothing was sent"
            )
        return name, mode

    def video_fields(
        self, input: dict[str, Any], endpoint: str, name: str, mode: str | None
    ) -> dict[str, Any]:
        if input.get("voice"):
            # Kling voices come from a voice id (voice_list), which the input has not.
            raise SubmitRefused("Kling's API needs a voice id for a voice; nothing was sent")
        fields: dict[str, Any] = {}
        if input.get("negative_prompt"):
            fields["negative_prompt"] = input["negative_prompt"]
        if "cfg_scale" in input and not name.startswith("kling-v2"):
            fields["cfg_scale"] = input["cfg_scale"]
        if mode and "master" not in name:  # the master models take no mode
            fields["mode"] = mode
        if "duration" in input:
            fields["duration"] = str(input["duration"])
        if endpoint == TEXT and input.get("aspect_ratio"):
            if input["aspect_ratio"] not in TEXT_ASPECT_RATIOS:
                raise SubmitRefused(
                    f"Kling renders {', '.join(TEXT_ASPECT_RATIOS)} only, not "
                    f"{input['aspect_ratio']}; nothing was sent"
                )
            fields["aspect_ratio"] = input["aspect_ratio"]
        if endpoint == IMAGE:
            images = images_of(input)
            fields["image"] = images[0]
            if len(images) > 1:
                fields["image_tail"] = images[1]
        sound = bool(input.get("sound") or input.get("generate_audio"))
        if not name.startswith(SILENT_MODELS):
            fields["sound"] = "on" if sound else "off"
        elif sound:
            raise SubmitRefused(f"Kling's {name} makes no sound; nothing was sent")
        return fields

    def motion_fields(self, input: dict[str, Any], mode: str | None) -> dict[str, Any]:
        seconds = int(input.get("duration") or 0)
        orientation = "image" if seconds <= IMAGE_ORIENTATION_MAX_SECONDS else "video"
        return {
            "image_url": input["image"],
            "video_url": input["motion_video"],
            "mode": mode,
            "character_orientation": orientation,
            # The catalog's motion-control clips are silent.
            "keep_original_sound": "no",
        }

    def accepted(self, answer: Answer, generation: Generation) -> Running:
        code = kling_code(answer)
        if code != 0:
            if status_of(code) >= 500:
                raise Ambiguous(f"it answered {self.describe(answer, status_of(code))}")
            raise self.refusal(answer, status_of(code))
        if answer.body is None:
            raise Ambiguous("it answered 2xx with a body that is not JSON")
        data = answer.object.get("data")
        reference = self.reference(data.get("task_id") if isinstance(data, dict) else None)
        return Running(reference, state={"endpoint": endpoint_for(generation.input)})

    def refusal(self, answer: Answer, code: int | None = None) -> SubmitRefused:
        refused = super().refusal(answer, code)
        business = kling_code(answer)
        meaning = MEANINGS.get(business)
        if meaning is None and business in (1200, 1201):
            said = self.error_message(answer).lower()
            meaning = "Kling could not use an input image" if IMAGE_WORDS.search(said) else None
        retry_after = answer.retry_after
        if business in RATE_LIMITS and retry_after is None:
            retry_after = RATE_LIMIT_BACKOFF
        message = f"{meaning}: {refused}" if meaning else str(refused)
        return SubmitRefused(
            self.clean(message), retry_after=retry_after, provider_fault=refused.provider_fault
        )

    # The task by our own id, after an ambiguous submit

    def lookup_call(self, generation: Generation) -> Call:
        endpoint = endpoint_for(generation.input)
        return Call(f"/v1/videos/{endpoint}/{quote(generation.task_id, safe='')}")

    def found(self, answer: Answer, generation: Generation) -> Running | None:
        data = answer.object.get("data")
        if kling_code(answer) != 0 or not isinstance(data, dict):
            return None
        info = data.get("task_info")
        if isinstance(info, dict) and info.get("external_task_id") not in (
            None,
            generation.task_id,
        ):
            return None  # someone else's task
        reference = self.reference(data.get("task_id"))
        return Running(reference, state={"endpoint": endpoint_for(generation.input)})

    # Poll

    def poll_call(self, generation: Generation, model: Any) -> Call:
        endpoint = generation.upstream_state.get("endpoint")
        if endpoint not in ENDPOINTS:
            endpoint = endpoint_for(generation.input)
        return Call(f"/v1/videos/{endpoint}/{quote(generation.upstream_ref, safe='')}")

    def read_status(self, answer: Answer, generation: Generation, workdir: Path | None) -> Outcome:
        code = kling_code(answer)
        if code != 0:
            return self.poll_refusal(answer, generation, status_of(code))
        data = answer.object.get("data")
        if not isinstance(data, dict):
            raise PollError("Kling's status answer has no data object")
        word = data.get("task_status")
        word = word.strip().lower() if isinstance(word, str) else ""
        if not word:
            raise PollError("Kling's status answer has no task_status")
        if word in ("submitted", "processing"):
            return self.running(generation)
        if word == "failed":
            reason = str(data.get("task_status_msg") or "")
            if SAFETY_WORDS.search(reason.lower()):
                return self.failed(reason, Generation.FailCode.CONTENT_VIOLATION)
            if IMAGE_WORDS.search(reason.lower()):
                return self.failed(reason, Generation.FailCode.INVALID_IMAGE_URL)
            return self.failed(reason)
        if word != "succeed":
            return self.unknown_state(generation, word)
        result = data.get("task_result")
        videos = result.get("videos") if isinstance(result, dict) else None
        urls = [video.get("url") for video in videos or [] if isinstance(video, dict)]
        # final_unit_deduction counts resource-pack units, not money: no cost_usd.
        return self.result(generation, urls)

    # Errors and the connection test

    def error_message(self, answer: Answer) -> str:
        said = super().error_message(answer)
        code = kling_code(answer)
        if not code:
            return said
        return f"{said} (Kling code {code})" if said else f"Kling code {code}"

    def check_call(self) -> Call:
        if self.token() is None:
            raise CheckFailed(NO_CREDENTIALS)
        now = int(time.time() * 1000)
        window = {"start_time": str(now - 30 * 86_400_000), "end_time": str(now)}
        return Call("/account/costs", params=window)

    def describe_check(self, answer: Answer) -> str:
        if kling_code(answer) != 0:
            raise CheckFailed(self.clean(f"{self.row.name} answered {self.describe(answer)}"))
        data = answer.object.get("data")
        packs = data.get("resource_pack_subscribe_infos") if isinstance(data, dict) else None
        online = [
            f"{pack.get('resource_pack_name')}: {pack.get('remaining_quantity')} "
            f"of {pack.get('total_quantity')} left"
            for pack in packs or []
            if isinstance(pack, dict) and pack.get("status") == "online"
        ]
        return "credentials accepted; resource packs online: " + ("; ".join(online[:3]) or "none")
