"""fal's queue API: submit to an app, poll its status, fetch its result.

    POST {base}/{app id}                       the app's own input  -> request_id,
                                               status_url, response_url, cancel_url
    GET  {status_url}?logs=1                   IN_QUEUE (queue_position) | IN_PROGRESS
                                               | COMPLETED (error, error_type when it failed)
    GET  {response_url}                        the app's output: {"video": {"url": ...}}
    PUT  {cancel_url}                          cancels a request not yet started

Auth is `Authorization: Key <key>`. The status, result and cancel URLs use the
app's owner and alias only (an app's subpath, /v2.1/pro/image-to-video, is
for the submit alone); the submit answer hands them out and they are kept in
upstream_state. A COMPLETED status says nothing of the output: the result is
a second request, and a failed request answers it with the app's error,
`detail` as an array of {loc, msg, type} (model errors) or a string with
`error_type` (request errors).

Callbacks: the submit carries `fal_webhook` (our URL, wakeup.py). fal signs
every webhook with ED25519: X-Fal-Webhook-Request-Id, X-Fal-Webhook-User-Id,
X-Fal-Webhook-Timestamp (unix seconds) and X-Fal-Webhook-Signature (hex) over
"{request id}\n{user id}\n{timestamp}\n{sha256 hex of the raw body}", by one
of the public keys of its JWKS (OKP/Ed25519, `x` base64url). A callback is
refused unless it is signed so and its timestamp is within 5 minutes of ours.
The JWKS is https://rest.alpha.fal.ai/.well-known/jwks.json; for a row whose
base URL is not fal's queue (a test server, a proxy), {base}/.well-known/jwks.json.
Held 24 hours, as fal's example does, and fetched again once when a signature
fails (keys rotate): callback_keys.py. fal retries a webhook that fails, 10
times over 2 hours.

Sources:
- https://docs.fal.ai/model-apis/model-endpoints/webhooks ("Verifying Your Webhook":
  the headers, the message, the JWKS URL, its 24-hour cache and the 5-minute
  leeway in its Python and JavaScript examples; "Retry policy")
- https://docs.fal.ai/model-endpoints/queue (endpoints, subpath rule, examples)
- https://fal.ai/docs/api-reference/inference-api (202 while queued, 200 when complete)
- https://fal.ai/docs/model-apis/errors and .../model-apis/request-errors (error shapes)
- github fal-ai/fal projects/fal_client/src/fal_client/client.py (Key auth, the
  handle's URLs, _parse_status, _raise_for_status, PUT cancel)
- github fal-ai/fal-js libs/client/src/types/endpoints.ts @381105e1 (every app's
  input fields; outputs are {"video": File})
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from playground import outbound
from playground.models import Generation, Provider
from playground.providers.base import (
    CallbackUnverifiable,
    CheckFailed,
    Outcome,
    PollError,
    Running,
)
from playground.providers.callback_keys import KeyCache, fresh
from playground.providers.upstream import (
    TRANSIENT_POLL_CODES,
    Answer,
    Builder,
    Call,
    Steps,
    Unsupported,
    UpstreamProvider,
    at_least,
)

KLING = "fal-ai/kling-video"
# The apps each catalog model runs on, by variant (see BUILDERS). fal has no
# Kling 2.1 text-to-video below master, no Kling 2.6 standard text or
# image-to-video, and nothing for the jobs contract's kling/v2-1 (480p/720p
# with audio), which is therefore absent.
APPS: dict[str, Any] = {
    "kling/v2-1-standard": f"{KLING}/v2.1/standard/image-to-video",
    "kling-2-1": {
        "standard-image-to-video": f"{KLING}/v2.1/standard/image-to-video",
        "pro-image-to-video": f"{KLING}/v2.1/pro/image-to-video",
        "master-text-to-video": f"{KLING}/v2.1/master/text-to-video",
        "master-image-to-video": f"{KLING}/v2.1/master/image-to-video",
    },
    "kling-v2-6": {
        "text-to-video": f"{KLING}/v2.6/pro/text-to-video",
        "image-to-video": f"{KLING}/v2.6/pro/image-to-video",
    },
    "kling-v3": {
        f"{mode}/{kind}": f"{KLING}/v3/{tier}/{kind}"
        for mode, tier in (("std", "standard"), ("pro", "pro"))
        for kind in ("text-to-video", "image-to-video")
    },
    "google/veo-3-1": "fal-ai/veo3.1",
    # Kling renders standard at 720p and pro at 1080p.
    "kling-motion-control": {
        f"{version}/{resolution}": f"{KLING}/{path}/{tier}/motion-control"
        for version, path in (("2.6", "v2.6"), ("3.0", "v3"))
        for resolution, tier in (("720p", "standard"), ("1080p", "pro"))
    },
}
APP_ID = re.compile(r"\w[\w.-]*(/\w[\w.-]*)+")
URLS = {"status_url": "/status", "response_url": "", "cancel_url": "/cancel"}
NAMESPACES = ("workflows", "comfy")  # kept before owner/alias in status URLs
CONTENT_TYPES = frozenset({"content_policy_violation"})
IMAGE_TYPES = frozenset(
    {"image_too_small", "image_too_large", "image_load_error", "unsupported_image_format"}
)
JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
JWKS_PATH = "/.well-known/jwks.json"
WEBHOOK_TOLERANCE = 300  # seconds either way
KEY_TIMEOUT = 5.0  # fetched while fal waits for our answer to its webhook
MAX_JWKS_BYTES = 64 * 1024
# A well-formed id no request has: the check's status call answers 404 with a key.
NO_REQUEST = "00000000-0000-0000-0000-000000000000"


class FalProvider(UpstreamProvider):
    kind = Provider.FAL
    default_base_url = "https://queue.fal.run"
    models = APPS
    model_name_pattern = APP_ID
    upstream_title = "fal"
    # fal's public keys, one set for every account: callback_keys.py.
    public_keys: KeyCache[list[Ed25519PublicKey]] = KeyCache(ttl=24 * 3600, refetch_every=60)

    @property
    def builders(self) -> dict[str, Builder]:
        return BUILDERS  # defined below, beside the functions it lists

    id_name = "request_id"
    accepted_status = "200"

    def auth_headers(self) -> dict[str, str]:
        key = self.row.api_key
        return {"Authorization": f"Key {key}"} if key else {}

    def download_headers(self) -> dict[str, str]:
        # fal's CDN needs no key; a result URL on the queue's own origin
        # (a proxy in front of it) gets the key, as its API calls do.
        return self.auth_headers()

    # Submit

    def submit_call(self, generation: Generation, model: Any) -> Call:
        app, body = self.built_input(generation, model)
        # fal's webhook is a query parameter of the submit (fal_webhook).
        callback = self.callback_url(generation)
        params = {"fal_webhook": callback} if callback else None
        return Call(f"/{app}", method="POST", json=body, params=params)

    def accepted(self, answer: Answer, generation: Generation) -> Running:
        body = answer.object
        reference = self.reference(body.get("request_id"))
        # The URLs fal hands out, unless they point away from the base URL
        # (our key goes to its origin only): then the documented paths.
        state = {}
        for name in URLS:
            url = body.get(name)
            own = isinstance(url, str) and url.startswith(("http://", "https://"))
            try:
                own = own and self.on_our_origin(url)
            except httpx.InvalidURL:
                own = False
            state[name] = url if own else self.request_path(generation, reference, name)
        return Running(reference, state=state)

    def request_path(self, generation: Generation, reference: str, name: str) -> str:
        """A request's status, response or cancel path, built as fal's docs say."""
        model = self.upstream_model(generation.model_id)
        if isinstance(model, dict):  # every variant shares the app's owner and alias
            model = next((app for app in model.values() if isinstance(app, str)), "")
        root = app_root(model if isinstance(model, str) and model else KLING)
        return f"/{root}/requests/{quote(reference, safe='')}{URLS[name]}"

    def state_url(self, generation: Generation, name: str) -> str:
        url = (generation.upstream_state or {}).get(name)
        if isinstance(url, str) and url:
            return url
        return self.request_path(generation, generation.upstream_ref, name)

    # Poll

    def poll_call(self, generation: Generation, model: Any) -> Call:
        return Call(self.state_url(generation, "status_url"), params={"logs": "1"})

    def read_status(
        self, answer: Answer, generation: Generation, workdir: Path | None
    ) -> Outcome | Steps:
        body = answer.object
        word = body.get("status")
        if not isinstance(word, str) or not word.strip():
            raise PollError("the upstream's status answer has no status")
        word = word.strip().upper()
        if word in ("IN_QUEUE", "IN_PROGRESS"):
            # fal reports a queue position and log lines, not a percentage.
            return self.running(generation)
        if word != "COMPLETED":
            return self.unknown_state(generation, word)
        return self.completed(body, generation)

    def completed(self, status: dict[str, Any], generation: Generation) -> Steps:
        """The second call of a poll: the result of a COMPLETED request."""
        answer = yield from self.ask(Call(self.state_url(generation, "response_url")))
        said_failed = bool(status.get("error") or status.get("error_type"))
        if answer.ok and not said_failed:
            video = answer.object.get("video")
            return self.result(generation, video.get("url") if isinstance(video, dict) else None)
        code = answer.status
        # A 5xx or 404 is the app's verdict when the status said it failed;
        # otherwise the result is asked again (or missing), as a poll is.
        if not answer.ok and (
            code in TRANSIENT_POLL_CODES or (not said_failed and (code >= 500 or code == 404))
        ):
            return self.poll_refusal(answer, generation)
        body = {} if answer.ok else answer.object
        types = error_types(body) | {str(status.get("error_type") or "")}
        reason = (self.error_message(answer) if body else "") or str(status.get("error") or "")
        return self.failed(reason, failure_code(body, types))

    def cancel_call(self, generation: Generation) -> Call | None:
        return Call(self.state_url(generation, "cancel_url"), method="PUT")

    # Callbacks

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        request_id, user_id, timestamp, signature = (
            headers.get(f"x-fal-webhook-{name}", "")
            for name in ("request-id", "user-id", "timestamp", "signature")
        )
        if not (request_id and user_id and fresh(timestamp, WEBHOOK_TOLERANCE)):
            return False  # refused before any key is fetched
        try:
            signed_bytes = bytes.fromhex(signature)
        except ValueError:
            return False
        if len(signed_bytes) != 64:  # an Ed25519 signature's length
            return False
        digest = hashlib.sha256(body).hexdigest()
        message = "\n".join((request_id, user_id, timestamp, digest)).encode()

        def signed(keys: list[Ed25519PublicKey]) -> bool:
            return any(signed_by(key, signed_bytes, message) for key in keys)

        return self.public_keys.check(self.jwks_url, self.fetch_public_keys, signed)

    @property
    def jwks_url(self) -> str:
        if self.base_url == self.default_base_url:
            return JWKS_URL
        return self.base_url + JWKS_PATH

    def fetch_public_keys(self) -> list[Ed25519PublicKey]:
        """fal's webhook keys from its JWKS; CallbackUnverifiable when there are none to be had."""
        why = f"fal's webhook keys could not be read from {self.jwks_url}"
        try:
            # Public keys: asked for without our key, which goes to the queue only.
            response = outbound.send(
                "GET",
                self.jwks_url,
                headers={"Accept": "application/json"},
                timeout=KEY_TIMEOUT,
                total_timeout=KEY_TIMEOUT,
                allow_private=True,  # configured by an admin, as the base URL is
                max_response_bytes=MAX_JWKS_BYTES,
            )
        except (outbound.FetchError, outbound.UnsafeURL) as exc:
            raise CallbackUnverifiable(f"{why}: {exc}") from None
        if not response.ok:
            raise CallbackUnverifiable(f"{why}: it answered code {response.status}")
        try:
            listed = response.json().get("keys")
        except (ValueError, AttributeError):
            listed = None
        keys = [key for jwk in listed or [] if (key := ed25519_key(jwk)) is not None]
        if not keys:
            raise CallbackUnverifiable(f"{why}: it lists no Ed25519 key")
        return keys

    # Errors and the check

    def error_message(self, answer: Answer) -> str:
        body = answer.object
        detail = body.get("detail")
        if isinstance(detail, list):
            text = "; ".join(describe_error(item) for item in detail if isinstance(item, dict))
        elif isinstance(detail, str):
            text = detail.strip()
        else:
            text = super().error_message(answer)
        error_type = body.get("error_type")
        if isinstance(error_type, str) and error_type and error_type not in text:
            text = f"{text} [{error_type}]".strip()
        return text

    def check_call(self) -> Call:
        # The queue host has no account call; the status of a request nobody
        # made needs the key all the same: 401/403 without it, 404 with it.
        return Call(f"/{KLING}/requests/{NO_REQUEST}/status")

    def check(self) -> str:
        try:
            answer = self.exchange(self.check_call())
        except (outbound.FetchError, outbound.UnsafeURL) as exc:
            raise CheckFailed(self.clean(str(exc))) from None
        if answer.status == 404 or answer.ok:
            return "credentials accepted (the queue answered a status request for no request)"
        raise CheckFailed(self.clean(f"{self.row.name} answered {self.describe(answer)}"))


# How our catalog inputs become each app's input: (variant, body). Only the
# fields an app's schema has are sent. fal's audio default (on) differs from
# the catalog's, so audio is always sent where the app has it.


def kling_21(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    mode = i.get("mode") or "standard-image-to-video"
    images = i.get("image_urls") or ([i["image_url"]] if i.get("image_url") else [])
    body = given(i, "prompt", "negative_prompt", "cfg_scale")
    body["duration"] = str(i.get("duration") or "5")
    if mode.endswith("image-to-video") and images:
        body["image_url"] = images[0]
    if mode == "pro-image-to-video" and len(images) > 1:
        body["tail_image_url"] = images[1]
    return mode, body


def kling_26(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if i.get("mode", "std") != "pro":
        raise Unsupported("fal serves Kling 2.6 text and image-to-video in pro mode only")
    if i.get("voice"):
        raise Unsupported("fal's Kling 2.6 takes voices only as voice ids made beforehand")
    body = given(i, "prompt")
    body.update(duration=str(i.get("duration") or "5"), generate_audio=bool(i.get("sound")))
    if i.get("image"):
        return "image-to-video", {**body, "start_image_url": i["image"]}
    return "text-to-video", {**body, "aspect_ratio": i.get("aspect_ratio") or "16:9"}


def kling_3(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    mode = i.get("mode") or "std"
    body = given(i, "prompt")
    body.update(duration=str(i.get("duration") or 5), generate_audio=bool(i.get("sound")))
    if i.get("image"):
        return f"{mode}/image-to-video", {**body, "start_image_url": i["image"]}
    return f"{mode}/text-to-video", {**body, "aspect_ratio": i.get("aspect_ratio") or "16:9"}


VEO_DURATIONS = (4, 6, 8)


def veo_31(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # The shortest of its lengths that holds what was asked: 5 s is made as 6 s.
    seconds = at_least(float(i.get("duration") or 8), VEO_DURATIONS)
    ratio = i.get("aspect_ratio") or "16:9"
    if seconds is None:
        raise Unsupported("Veo 3.1 on fal renders at most 8 seconds")
    if ratio not in ("16:9", "9:16"):
        raise Unsupported(f"Veo 3.1 on fal renders 16:9 or 9:16, not {ratio}")
    # The catalog's Veo is 720p with its native audio.
    body = {**given(i, "prompt"), "aspect_ratio": ratio, "duration": f"{seconds}s"}
    return "", {**body, "resolution": "720p", "generate_audio": True}


def motion_control(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # The "video" orientation follows the motion source for up to 30 s, as
    # the catalog allows; the catalog's clips are silent. The output lasts
    # as long as the motion video: the apps take no duration.
    body = given(i, "prompt")
    body.update(image_url=i.get("image"), video_url=i.get("motion_video"))
    body.update(character_orientation="video", keep_original_sound=False)
    return f"{i.get('version') or '2.6'}/{i.get('resolution') or '720p'}", body


BUILDERS: dict[str, Builder] = {
    "kling/v2-1-standard": kling_21,
    "kling-2-1": kling_21,
    "kling-v2-6": kling_26,
    "kling-v3": kling_3,
    "google/veo-3-1": veo_31,
    "kling-motion-control": motion_control,
}


def given(i: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: i[name] for name in names if i.get(name) not in (None, "")}


def app_root(app: str) -> str:
    """owner/alias of an app id (namespace/owner/alias for workflows and comfy)."""
    parts = app.strip("/").split("/")
    return "/".join(parts[:3] if parts[0] in NAMESPACES else parts[:2])


def ed25519_key(jwk: Any) -> Ed25519PublicKey | None:
    """The public key of one JWKS entry (OKP, Ed25519, `x` base64url), or None."""
    if not isinstance(jwk, dict) or (jwk.get("kty"), jwk.get("crv")) != ("OKP", "Ed25519"):
        return None
    x = jwk.get("x")
    if not isinstance(x, str):
        return None
    try:
        # base64url leaves the padding out; taken with or without it all the same.
        raw = base64.urlsafe_b64decode(x.rstrip("=") + "=" * (-len(x.rstrip("=")) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        return None


def signed_by(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def describe_error(item: dict[str, Any]) -> str:
    loc = item.get("loc") if isinstance(item.get("loc"), list) else []
    where = ".".join(str(part) for part in loc if part != "body")
    text = str(item.get("msg") or "").strip()
    text = f"{where}: {text}" if where else text
    return f"{text} ({item['type']})" if item.get("type") else text


def error_types(body: dict[str, Any]) -> set[str]:
    detail = body.get("detail")
    items = detail if isinstance(detail, list) else []
    found = {str(item.get("type")) for item in items if isinstance(item, dict)}
    return found | {str(body.get("error_type") or "")}


def failure_code(body: dict[str, Any], types: set[str]) -> str:
    if types & CONTENT_TYPES:
        return Generation.FailCode.CONTENT_VIOLATION
    if types & IMAGE_TYPES:
        return Generation.FailCode.INVALID_IMAGE_URL
    # A download that failed is the user's image when it was an image field.
    detail = body.get("detail") if isinstance(body.get("detail"), list) else []
    for item in detail:
        if isinstance(item, dict) and item.get("type") == "file_download_error":
            if "image" in str(item.get("loc") or ""):
                return Generation.FailCode.INVALID_IMAGE_URL
    return ""
