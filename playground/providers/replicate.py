"""Replicate's predictions API: create a prediction of an official model, poll it.

    POST {base}/v1/models/{owner}/{name}/predictions  {"input": {...}}  -> 201, the prediction
    POST {base}/v1/predictions  {"version", "input"}  (a model given as owner/name:version)
    GET  {base}/v1/predictions/{id}       status starting | processing | succeeded | failed
                                          | canceled; output (a URL, or a list), error, logs
    POST {base}/v1/predictions/{id}/cancel
    GET  {base}/v1/account                the cheap authenticated call

Auth is `Authorization: Bearer <token>`. The create is sent without
`Prefer: wait`: the poller waits, not the worker. Errors are problem details
{title, detail, status} (402 out of credit, 422 bad input, 429 throttled with
Retry-After). Replicate removes an API prediction's output files an hour after
it finishes: the engine copies a result as soon as a poll reads it, and a poll
after that hour finds the file gone and fails the generation.

Callbacks: a prediction is created with `webhook` (our URL, wakeup.py) and
`webhook_events_filter: ["completed"]`. Replicate signs every webhook as
Standard Webhooks do: `webhook-id`, `webhook-timestamp` (unix seconds) and
`webhook-signature` (space-separated `v1,<base64 HMAC-SHA256>` of
"{id}.{timestamp}.{raw body}"), keyed with the base64 after `whsec_` of the
account's secret, `GET {base}/v1/webhooks/default/secret` -> {"key": "whsec_..."}.
A callback is refused unless it is signed so and its timestamp is within 5
minutes of ours (the Standard Webhooks tolerance; the official client's
`validate` takes it as `tolerance`). The secret is held an hour, and fetched
again once when a signature fails (it may have been rotated): callback_keys.py.
Another Reelgate serves the same secret and signs the same way.

Options: {"input_style": "reelgate"} sends our catalog input unchanged under
the model's catalog name (an owner/name id or alias), for another Reelgate,
which serves this contract for its own catalog.

Sources:
- github replicate/replicate-python @0110c2c5: replicate/{client,model,prediction,
  account,exceptions,helpers}.py (paths, Bearer auth, statuses, Progress.parse,
  POST cancel, ReplicateError fields, FileOutput read with the client's auth)
- https://replicate.com/docs/topics/predictions/create-a-prediction (Prefer: wait)
- https://replicate.com/docs/topics/predictions/rate-limits (429)
- https://replicate.com/docs/topics/predictions/data-retention (outputs kept 1 hour)
- https://replicate.com/docs/topics/webhooks/verify-webhook (headers, signed content,
  the secret's endpoint), .../webhooks/receive-webhook (a 4xx or 5xx answer to the
  completed webhook is retried for about a minute)
- github replicate/replicate-python @0110c2c5: replicate/webhook.py
  (Webhooks.Default.secret, Webhooks.validate)
- the models' API pages on replicate.com: kwaivgi/kling-v2.1 (daad218f),
  kwaivgi/kling-v2.1-master (41625bc1), kwaivgi/kling-v2.6 (b13f36d0),
  kwaivgi/kling-v3-video (4a8ba274), google/veo-3.1 (as generated in
  github nodetool-ai/nodetool-replicate src/nodetool/nodes/replicate/video/
  generate.py @d21aa025, with kwaivgi/kling-v3-motion-control)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playground import catalog, outbound
from playground.models import Generation, Provider
from playground.providers.base import CallbackUnverifiable, Outcome, PollError, Running
from playground.providers.callback_keys import KeyCache, fresh
from playground.providers.upstream import (
    Answer,
    Builder,
    Call,
    Unsupported,
    UpstreamProvider,
    at_least,
)
from playground.webhooks import signing

SECRET_PATH = "/v1/webhooks/default/secret"
WEBHOOK_TOLERANCE = 300  # seconds either way
# The secret is fetched while Replicate waits for our answer to its webhook,
# which it wants "within a few seconds".
KEY_TIMEOUT = 5.0
V21, V21_MASTER = "kwaivgi/kling-v2.1", "kwaivgi/kling-v2.1-master"
# Our model id -> the Replicate model, or one per variant (see BUILDERS).
# kling/v2-1 (480p/720p text-to-video with audio) has no Replicate model.
MODELS: dict[str, Any] = {
    "kling/v2-1-standard": V21,
    "kling-2-1": {
        "standard-image-to-video": V21,
        "pro-image-to-video": V21,
        "master-text-to-video": V21_MASTER,
        "master-image-to-video": V21_MASTER,
    },
    "kling-v2-6": "kwaivgi/kling-v2.6",
    "kling-v3": "kwaivgi/kling-v3-video",
    "google/veo-3-1": "google/veo-3.1",
    # kwaivgi/kling-v2.6-motion-control exists, but its schema is unconfirmed.
    "kling-motion-control": {"3.0": "kwaivgi/kling-v3-motion-control"},
}
MODEL_NAME = re.compile(r"[\w-][\w.-]*/[\w-][\w.-]*(:\w+)?")
RUNNING = frozenset({"starting", "processing"})
# Progress as Replicate's client reads it: the last tqdm-style line of the logs.
PROGRESS_LINE = re.compile(r"^\s*(\d+)%\s*\|.+?\|\s*\d+/\d+")
# Replicate's video models report a safety block in their error text
# (Kling: "flagged as sensitive ... (E005)", Veo: Google's safety filters).
CONTENT = re.compile(
    r"nsfw|sensitive|safety|content polic|flagged|moderation|blocked|E005", re.IGNORECASE
)
BAD_IMAGE = re.compile(
    r"(download|fetch|load|read|open|access)\w*\s+(the\s+)?(\w+\s+)?(image|frame)"
    r"|(image|frame)\w*\s+(url\s+)?(is\s+)?(invalid|unreachable|not accessible)",
    re.IGNORECASE,
)


class ReplicateProvider(UpstreamProvider):
    kind = Provider.REPLICATE
    default_base_url = "https://api.replicate.com"
    models = MODELS
    model_name_pattern = MODEL_NAME
    upstream_title = "Replicate"
    # What checks this account's webhooks: callback_keys.py.
    signing_secrets: KeyCache[bytes] = KeyCache(ttl=3600, refetch_every=60)

    @property
    def builders(self) -> dict[str, Builder]:
        return BUILDERS  # defined below, beside the functions it lists

    id_name = "prediction id"
    accepted_status = "201"

    def download_headers(self) -> dict[str, str]:
        # The official client reads output files with its authenticated
        # client; the key goes only to a URL on the API's own origin.
        return self.auth_headers()

    @property
    def passthrough(self) -> bool:
        return self.row.options.get("input_style") == "reelgate"

    # Submit

    def submit_call(self, generation: Generation, model: Any) -> Call:
        name, body = self.upstream_input(generation, model)
        if ":" in name:  # a pinned version
            return Call(
                "/v1/predictions",
                method="POST",
                json={"version": name, "input": body} | self.webhook(generation),
            )
        return Call(
            f"/v1/models/{name}/predictions",
            method="POST",
            json={"input": body} | self.webhook(generation),
        )

    def webhook(self, generation: Generation) -> dict[str, Any]:
        callback = self.callback_url(generation)
        return {"webhook": callback, "webhook_events_filter": ["completed"]} if callback else {}

    def upstream_input(self, generation: Generation, model: Any) -> tuple[str, dict[str, Any]]:
        """The model and its input; SubmitRefused (nothing sent) when Replicate has none."""
        model_id = generation.model_id
        if self.passthrough:
            name = self.catalog_name(model_id)
            if not MODEL_NAME.fullmatch(name):
                raise self.not_sent(f"{model_id} has no owner/name to send it under")
            return name, dict(generation.input)
        return self.built_input(generation, model)

    def catalog_name(self, model_id: str) -> str:
        """The row's mapping, else the first owner/name among the model's catalog names."""
        mapped = self.row.model_map.get(model_id)
        if isinstance(mapped, str) and MODEL_NAME.fullmatch(mapped):
            return mapped
        try:
            names = catalog.get_spec(model_id).names
        except catalog.UnknownModel:
            names = (model_id,)
        return next((n for n in names if "/" in n), model_id)

    def accepted(self, answer: Answer, generation: Generation) -> Running:
        return Running(self.reference(answer.object.get("id")))

    # Poll

    def poll_call(self, generation: Generation, model: Any) -> Call:
        return Call(f"/v1/predictions/{quote(generation.upstream_ref, safe='')}")

    def read_status(self, answer: Answer, generation: Generation, workdir: Path | None) -> Outcome:
        body = answer.object
        word = body.get("status")
        if not isinstance(word, str) or not word.strip():
            raise PollError("the upstream's prediction has no status")
        word = word.strip().lower()
        if word in RUNNING:
            return self.running(generation, log_progress(body.get("logs")))
        if word == "succeeded":
            return self.result(generation, body.get("output"))
        if word == "canceled":
            return self.failed("The prediction was canceled upstream.")
        if word != "failed":
            return self.unknown_state(generation, word)
        error = body.get("error")
        reason = error if isinstance(error, str) else str(error or "")
        code = ""
        if CONTENT.search(reason):
            code = Generation.FailCode.CONTENT_VIOLATION
        elif BAD_IMAGE.search(reason):
            code = Generation.FailCode.INVALID_IMAGE_URL
        return self.failed(reason, code)

    def cancel_call(self, generation: Generation) -> Call | None:
        path = f"/v1/predictions/{quote(generation.upstream_ref, safe='')}/cancel"
        return Call(path, method="POST")

    # Callbacks

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        message_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "")
        offered = headers.get("webhook-signature", "")
        if not (message_id and offered and fresh(timestamp, WEBHOOK_TOLERANCE)):
            return False  # refused before any secret is fetched

        def signed(key: bytes) -> bool:
            return signing.standard_signature_valid(key, message_id, timestamp, body, offered)

        # One secret per account: held per base URL and token, never per row.
        token = hashlib.sha256(self.row.api_key.encode()).hexdigest()[:16]
        name = f"{self.base_url} {token}"
        return self.signing_secrets.check(name, self.signing_key, signed)

    def signing_key(self) -> bytes:
        """The HMAC key of this account's webhooks, from its secret; or CallbackUnverifiable."""
        why = f"the webhook signing secret of {self.row.name} could not be read"
        try:
            answer = self.exchange(Call(SECRET_PATH, timeout=KEY_TIMEOUT))
        except (outbound.FetchError, outbound.UnsafeURL) as exc:
            raise CallbackUnverifiable(self.clean(f"{why}: {exc}")) from None
        if not answer.ok:
            raise CallbackUnverifiable(self.clean(f"{why}: it answered {self.describe(answer)}"))
        secret = answer.object.get("key")
        try:
            return signing.secret_key(secret if isinstance(secret, str) else "")
        except signing.BadSecret as exc:
            raise CallbackUnverifiable(f"{why}: {exc}") from None

    # Errors and the check

    def error_message(self, answer: Answer) -> str:
        body = answer.object
        title, detail = body.get("title"), body.get("detail")
        parts = [p.strip() for p in (title, detail) if isinstance(p, str) and p.strip()]
        return ": ".join(parts) if parts else super().error_message(answer)

    def check_call(self) -> Call:
        # Another Reelgate has no /v1/account; its list of predictions needs the key too.
        return Call("/v1/predictions" if self.passthrough else "/v1/account")

    def describe_check(self, answer: Answer) -> str:
        account = answer.object.get("username")
        return f"credentials accepted; account {account}" if account else "credentials accepted"


# How our catalog inputs become each model's input: (variant, input). Only
# the model's schema fields are sent (Replicate answers 422 to others), so
# cfg_scale, which Replicate's Kling models lack, is left out. Durations are
# integers; audio defaults differ by model, so it is always sent.


def kling_21(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    mode = i.get("mode") or "standard-image-to-video"
    images = i.get("image_urls") or ([i["image_url"]] if i.get("image_url") else [])
    body = {**given(i, "prompt", "negative_prompt"), "duration": int(i.get("duration") or 5)}
    if images and mode.endswith("image-to-video"):
        body["start_image"] = images[0]
    if not mode.startswith("master"):
        body["mode"] = "pro" if mode.startswith("pro") else "standard"
        if mode.startswith("pro") and len(images) > 1:
            body["end_image"] = images[1]
    return mode, body


def kling_26(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # Replicate's kling-v2.6 has no mode: it renders pro (1080p).
    if i.get("mode", "std") != "pro":
        raise Unsupported("Replicate serves Kling 2.6 in pro mode only")
    if i.get("voice"):
        raise Unsupported("Replicate's Kling 2.6 has no voice option")
    return "", image_or_ratio(i, generate_audio=bool(i.get("sound")))


def kling_3(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    mode = "pro" if i.get("mode") == "pro" else "standard"
    return "", image_or_ratio(i, mode=mode, generate_audio=bool(i.get("sound")))


def image_or_ratio(i: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {**given(i, "prompt"), "duration": int(i.get("duration") or 5), **fields}
    if i.get("image"):
        return {**body, "start_image": i["image"]}
    return {**body, "aspect_ratio": i.get("aspect_ratio") or "16:9"}


VEO_DURATIONS = (4, 6, 8)


def veo_31(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # The shortest of its lengths that holds what was asked: 5 s is made as 6 s.
    seconds = at_least(float(i.get("duration") or 8), VEO_DURATIONS)
    ratio = i.get("aspect_ratio") or "16:9"
    if seconds is None:
        raise Unsupported("Veo 3.1 on Replicate renders at most 8 seconds")
    if ratio not in ("16:9", "9:16"):
        raise Unsupported(f"Veo 3.1 on Replicate renders 16:9 or 9:16, not {ratio}")
    # The catalog's Veo is 720p with native audio; Replicate defaults to 1080p.
    body = {**given(i, "prompt"), "aspect_ratio": ratio, "duration": seconds}
    return "", {**body, "resolution": "720p", "generate_audio": True}


def motion_control(i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # "video" orientation: up to 30 s, following the motion source, whose
    # length the output takes; the catalog's clips are silent.
    body = {**given(i, "prompt"), "image": i.get("image"), "video": i.get("motion_video")}
    body.update(mode="pro" if i.get("resolution") == "1080p" else "std")
    body.update(character_orientation="video", keep_original_sound=False)
    return str(i.get("version") or "2.6"), body


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


def log_progress(logs: Any) -> int | None:
    if not isinstance(logs, str):
        return None
    for line in reversed(logs.splitlines()):
        match = PROGRESS_LINE.match(line)
        if match:
            return min(int(match.group(1)), 100)
    return None
