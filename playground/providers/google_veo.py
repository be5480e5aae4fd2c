"""Google Veo 3.1, through the Gemini API (an API key) or Vertex AI (a service account).

Gemini API: options {"auth": "gemini"} (the default), credentials {"api_key"}, sent
in an `x-goog-api-key` header (never `?key=`, which would end up in stored URLs):
    POST {base}/v1beta/models/{model}:predictLongRunning {instances, parameters} -> {name}
    GET  {base}/v1beta/{name} -> {done, error?, response.generateVideoResponse:
         {generatedSamples[].video.uri, raiMediaFilteredCount, raiMediaFilteredReasons}}
    The video URI is on the API's host and needs the key (download_headers).
Vertex AI: options {"auth": "vertex", "project", "region" (us-central1), "storage_uri"?
(gs://, else the video comes inside the answer), "storage_base_url"?}, credentials
{"service_account_json"}; a Bearer token from the account (google-auth's JWT-bearer
grant to the JSON's token_uri), kept per row, renewed as it expires or on a 401:
    POST {base}/v1/projects/{p}/locations/{r}/publishers/google/models/{model}:predictLongRunning
    POST {base}/v1/{name before /operations/}:fetchPredictOperation {operationName}
         -> response.videos[]: {bytesBase64Encoded | gcsUri, mimeType}
Errors of both: {"error": {code, message, status, details}}. The check reads the model.

Sources: googleapis/python-genai google/genai/models.py (the body per API: in Gemini
mode the SDK refuses seed, generateAudio, storageUri, fps, pubsubTopic, mask,
compressionQuality, resizeMode, so none goes there; the generateVideoResponse and
videos readers), google/genai/operations.py (both polls), google/genai/_api_client.py
(the key header, the cloud-platform scope); googleapis/googleapis
google/ai/generativelanguage/v1beta/prediction_service.proto; google-gemini/cookbook
quickstarts/Get_started_Veo_REST.ipynb (operations; the file URI needs the key);
https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/veo-video-generation
and https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/
projects.locations.publishers.models/fetchPredictOperation,
https://docs.cloud.google.com/vertex-ai/generative-ai/docs/models/veo/3-1-generate
(16:9 and 9:16; 4, 6 or 8 s); googleapis/google-auth-library-python google/oauth2/_client.py.

What Veo cannot make is refused before anything is sent, never bent into something
else the user did not ask for: other aspect ratios (routing then tries a provider
that makes them). A duration Veo does not offer becomes the shortest one at least as
long (the catalog's 5 s is made as 6 s): the clip holds everything that was paid for.
An inline Vertex video is held in memory while it is decoded (answers up to 200 MB):
a row making long or 1080p videos is better given a storage_uri.
The Gemini API has only preview ids for Veo 3.1, which Google withdraws in time:
a row then maps google/veo-3-1 to the current id in its model_map.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import google.auth.exceptions
import google.auth.transport
from django.conf import settings
from google.oauth2 import service_account

from playground import catalog, outbound
from playground.models import Generation, Provider
from playground.providers.base import (
    CheckFailed,
    Outcome,
    PollError,
    Running,
    SubmitRefused,
    Succeeded,
)
from playground.providers.upstream import (
    MAX_REFERENCE,
    MAX_RETRY_AFTER,
    Ambiguous,
    Answer,
    Call,
    UpstreamProvider,
    at_least,
)

GEMINI, VERTEX = "gemini", "vertex"
STORAGE_BASE = "https://storage.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ASPECT_RATIOS = ("16:9", "9:16")
DURATIONS = (4, 6, 8)
# Without a storage_uri, Vertex puts the video in the poll's answer.
MAX_INLINE_ANSWER = 200 * 1024 * 1024
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Operation names go into our request paths: plain segments only.
OPERATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*(/[A-Za-z0-9][A-Za-z0-9._:-]*)*")
REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
PROJECT = re.compile(r"[a-z0-9.:-]{1,100}")
# Veo's refusals: "violates Google's usage guidelines", "blocked by your current
# safety settings", Responsible AI; an operation error naming the image otherwise.
SAFETY_WORDS = ("safety", "usage guideline", "responsible ai", "violat", "prohibited")
SAFETY_WORDS += ("sensitive", "harmful", "celebrit", "blocked", "filtered")
CREDENTIAL_ERRORS = (ValueError, TypeError, KeyError, google.auth.exceptions.GoogleAuthError)


class GoogleVeoProvider(UpstreamProvider):
    kind = Provider.GOOGLE_VEO
    default_base_url = "https://generativelanguage.googleapis.com"
    # Vertex retired its preview ids; the Gemini API has only those.
    models = {
        "google/veo-3-1": {GEMINI: "veo-3.1-generate-preview", VERTEX: "veo-3.1-generate-001"}
    }
    id_name = "operation name"
    _token = ""  # Vertex: the access token of this call

    @property
    def mode(self) -> str:
        return str(self.row.options.get("auth") or GEMINI).strip().lower()

    @property
    def project(self) -> str:
        return str(self.row.options.get("project") or "").strip()

    @property
    def region(self) -> str:
        return str(self.row.options.get("region") or "us-central1").strip()

    @property
    def base_url(self) -> str:
        if self.row.base_url or self.mode != VERTEX:
            return super().base_url
        host = "" if self.region == "global" else f"{self.region}-"
        return f"https://{host}aiplatform.googleapis.com"

    # The contract, credentials readied first: without them nothing is sent.

    def check(self) -> str:
        self.ready(CheckFailed)
        return super().check()

    def prepare(self, error: type[Exception]) -> None:
        self.ready(error)

    def ready(self, error: type[Exception]) -> None:
        if self.mode == GEMINI:
            if not self.row.api_key:
                raise error("the Gemini API needs an api_key credential; nothing was sent")
            return
        if self.mode != VERTEX:
            raise error(f"options auth must be gemini or vertex, not {self.mode[:20]!r}")
        if not REGION.fullmatch(self.region) or not PROJECT.fullmatch(self.project):
            raise error("Vertex AI needs options project and region (e.g. us-central1)")
        try:
            self._token = account_for(self.row).token(self.timeout)
        except CREDENTIAL_ERRORS as exc:
            reason = str(exc.args[0] if exc.args else exc)[:200]  # not the grant's data
            raise error(self.clean(f"no Vertex AI access token ({reason})")) from None

    def auth_headers(self) -> dict[str, str]:
        if self.mode == VERTEX:
            return {"Authorization": f"Bearer {self._token}"} if self._token else {}
        return {"x-goog-api-key": self.row.api_key} if self.row.api_key else {}

    def download_headers(self) -> dict[str, str]:
        return self.auth_headers()

    def secrets(self) -> list[str]:
        values = [value for value in self.row.credentials.values() if isinstance(value, str)]
        try:
            account = account_for(self.row)
            key = str(account.info.get("private_key") or "")
            # Its lines too: an echo cut at a message's length still has whole lines.
            values += [key, *(line for line in key.splitlines() if len(line) >= 16)]
            values.append(account.credentials.token or "")
        except CREDENTIAL_ERRORS:
            pass
        return [value for value in [*values, self._token] if len(value) >= 4]

    def answered(self, call: Call, answer: Answer) -> Answer:
        if answer.status == 401 and self.mode == VERTEX and self._token:
            # Revoked, or expired early: the next call fetches another.
            account_for(self.row).forget(self._token)
        if answer.retry_after is None and (delay := retry_delay(answer)) is not None:
            answer = replace(answer, retry_after=delay)
        return answer

    def exchange(self, call: Call) -> Answer:
        answer = super().exchange(call)
        if answer.status == 401 and self.mode == VERTEX and self._token:
            # Nothing acted on a 401, so asking again at once with a new
            # token cannot make a second task.
            try:
                self._token = account_for(self.row).token(self.timeout)
            except CREDENTIAL_ERRORS:
                return answer
            answer = super().exchange(call)
        return answer

    # Submit

    def submit_call(self, generation: Generation, model: Any) -> Call:
        name = self.model_name(generation.model_id, model)
        params = catalog.get_spec(generation.model_id).render_params(generation.input)
        ratio, seconds = params["aspect_ratio"], params["duration"]
        if ratio not in ASPECT_RATIOS:
            raise SubmitRefused(f"Veo makes 16:9 or 9:16 videos, not {ratio}; nothing was sent")
        length = at_least(seconds, DURATIONS)
        if length is None:
            raise SubmitRefused(
                f"Veo makes at most {DURATIONS[-1]} s, not {seconds:g} s; nothing was sent"
            )
        if params["images"]:
            # The catalog's Veo takes none; a row mapping another model here must
            # not lose its images silently.
            raise SubmitRefused("this Veo provider sends no images; nothing was sent")
        parameters = {"aspectRatio": ratio, "durationSeconds": length}
        parameters |= {"resolution": params["resolution"], "sampleCount": 1}
        if params["negative_prompt"]:
            parameters["negativePrompt"] = params["negative_prompt"]
        body = {"instances": [{"prompt": params["prompt"]}], "parameters": parameters}
        if self.mode == GEMINI:
            return Call(f"/v1beta/models/{name}:predictLongRunning", method="POST", json=body)
        # Vertex only: the Gemini API refuses both (it always makes sound).
        parameters["generateAudio"] = params["audio"]
        if self.row.options.get("storage_uri"):
            parameters["storageUri"] = str(self.row.options["storage_uri"])
        path = f"/v1/projects/{self.project}/locations/{self.region}/publishers/google/models"
        return Call(f"{path}/{name}:predictLongRunning", method="POST", json=body)

    def model_name(self, model_id: str, model: Any) -> str:
        if model_id not in self.models and model_id not in self.row.model_map:
            raise SubmitRefused(f"{self.row.name} does not make {model_id}; nothing was sent")
        if isinstance(model, dict):  # the built-in table, or a row's, per API
            model = model.get(self.mode)
        if not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
            raise SubmitRefused(f"no usable Veo model name for {model_id}; nothing was sent")
        return model

    def accepted(self, answer: Answer, generation: Generation) -> Running:
        name = answer.object.get("name")
        if not usable_operation(name, self.mode):
            raise Ambiguous("it answered 2xx without a usable operation name")
        # Vertex names hold the project and model: past the column's size the
        # name lives in upstream_state and its id stands for it.
        reference = name if len(name) <= MAX_REFERENCE else name.rpartition("/")[2]
        return Running(self.reference(reference), state={"operation": name})

    # Poll

    def poll_call(self, generation: Generation, model: Any) -> Call:
        name = generation.upstream_state.get("operation") or generation.upstream_ref
        if not usable_operation(name, self.mode):
            raise PollError(f"no usable operation name for task {generation.upstream_ref}")
        if self.mode == GEMINI:
            return Call(f"/v1beta/{name}", max_answer_bytes=MAX_INLINE_ANSWER)
        endpoint = name.rpartition("/operations/")[0]
        body = {"operationName": name}
        path = f"/v1/{endpoint}:fetchPredictOperation"
        return Call(path, method="POST", json=body, max_answer_bytes=MAX_INLINE_ANSWER)

    def poll_refusal(self, answer: Answer, generation: Generation, code: int | None = None):
        # Google answers a wrong key with 400 API_KEY_INVALID: as with a 401, an
        # admin who fixes the key picks the task up again.
        if code is None and any(d.get("reason") == "API_KEY_INVALID" for d in details(answer)):
            code = 401
        return super().poll_refusal(answer, generation, code)

    def read_status(self, answer: Answer, generation: Generation, workdir: Path | None) -> Outcome:
        operation = answer.body
        if not isinstance(operation, dict) or not operation:
            raise PollError("the upstream's answer is not a JSON operation")
        done = operation.get("done", False)  # absent while it runs
        if done is False or done is None:
            return self.running(generation)
        if done is not True:
            return self.unknown_state(generation, done)
        error = operation.get("error")
        if isinstance(error, dict) and error:
            message = str(error.get("message") or "")
            code = Generation.FailCode.UPSTREAM_ERROR
            if any(word in message.lower() for word in SAFETY_WORDS):
                code = Generation.FailCode.CONTENT_VIOLATION
            elif "image" in message.lower():
                code = Generation.FailCode.INVALID_IMAGE_URL
            return self.failed(message, code, upstream_code=error.get("code"))
        response = operation.get("response") if isinstance(operation.get("response"), dict) else {}
        # The Gemini API wraps the result in generateVideoResponse; Vertex does not.
        result = response.get("generateVideoResponse")
        result = result if isinstance(result, dict) else response
        for video in videos_in(result):
            if isinstance(video.get("uri"), str):
                return self.result(generation, video["uri"])
            if isinstance(video.get("gcsUri"), str):
                return self.from_storage(generation, video["gcsUri"])
            inline = video.get("bytesBase64Encoded") or video.get("encodedVideo")
            if isinstance(inline, str) and inline:
                return self.from_bytes(generation, inline, workdir)
        reasons = result.get("raiMediaFilteredReasons")
        reasons = " ".join(map(str, reasons)).strip() if isinstance(reasons, list) else ""
        count = result.get("raiMediaFilteredCount")
        if reasons or (isinstance(count, int) and count > 0):
            reason = reasons or "Veo's safety filters withheld the video."
            return self.failed(reason, Generation.FailCode.CONTENT_VIOLATION)
        ref = generation.upstream_ref
        return self.failed(f"The upstream reported task {ref} done without a video.")

    def from_storage(self, generation: Generation, gcs_uri: str) -> Outcome:
        """A video Vertex wrote to a bucket, fetched with our token through the JSON API."""
        bucket, _, name = gcs_uri.removeprefix("gs://").partition("/")
        if not gcs_uri.startswith("gs://") or not bucket or not name:
            return self.result(generation, None)
        base = str(self.row.options.get("storage_base_url") or STORAGE_BASE).rstrip("/")
        url = f"{base}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}?alt=media"
        # Not our origin, so not self.result(): the token goes to the storage
        # host alone (the download drops it on a redirect elsewhere).
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        note = f"upstream task {generation.upstream_ref}"
        return Succeeded(video_url=url, note=note, download_headers=headers)

    def from_bytes(self, generation: Generation, inline: str, workdir: Path | None) -> Outcome:
        if workdir is None:
            # The poller's look: the video is ready. The worker that stores it
            # polls once more, with a workdir to write it to.
            return Succeeded(note=f"upstream task {generation.upstream_ref}, inline")
        try:
            content = base64.b64decode(inline, validate=True)
        except (binascii.Error, ValueError):
            raise PollError("the upstream's inline video is not base64") from None
        path = workdir / "veo-result.mp4"
        path.write_bytes(content)
        return Succeeded(video_path=path, note=f"upstream task {generation.upstream_ref}")

    # The upstream's words, and the connection check

    def error_message(self, answer: Answer) -> str:
        error = answer.object.get("error")
        if not isinstance(error, dict):  # the token endpoint's {error, error_description}
            return super().error_message(answer)
        message = str(error.get("message") or "").strip()
        status = str(error.get("status") or "").strip()
        said = f"{status}: {message}" if status and message else message or status
        return said

    def check_call(self) -> Call:
        model = self.upstream_model("google/veo-3-1")
        name = model.get(self.mode) if isinstance(model, dict) else model
        if self.mode == VERTEX:
            return Call(f"/v1/publishers/google/models/{name}")
        return Call(f"/v1beta/models/{name}")

    def describe_check(self, answer: Answer) -> str:
        name = answer.object.get("name") or "the model"
        if self.mode == VERTEX:
            return f"service account token accepted; {name} found (project quota not checked)"
        methods = answer.object.get("supportedGenerationMethods") or []
        serves = " for predictLongRunning" if "predictLongRunning" in methods else ""
        return f"API key accepted; {name} served{serves} (billing shows at the first submit)"


def usable_operation(name: Any, mode: str) -> bool:
    if not isinstance(name, str) or not OPERATION.fullmatch(name) or ".." in name:
        return False
    return mode != VERTEX or "/operations/" in name


def videos_in(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A done operation's videos: Gemini's generatedSamples[].video, Vertex's videos[]."""
    samples, videos = result.get("generatedSamples"), result.get("videos")
    found = [s.get("video") for s in samples if isinstance(s, dict)] if samples else []
    found += videos if isinstance(videos, list) else []
    return [video for video in found if isinstance(video, dict)]


def details(answer: Answer) -> list[dict[str, Any]]:
    """The google.rpc details of an error answer (ErrorInfo, RetryInfo, ...)."""
    error = answer.object.get("error")
    found = error.get("details") if isinstance(error, dict) else None
    return [d for d in found if isinstance(d, dict)] if isinstance(found, list) else []


def retry_delay(answer: Answer) -> float | None:
    """RetryInfo's "retryDelay": "31s", Google's pace in place of Retry-After."""
    for detail in details(answer):
        delay = str(detail.get("retryDelay") or "").strip()
        if re.fullmatch(r"\d+(\.\d+)?s", delay):
            return min(float(delay[:-1]), MAX_RETRY_AFTER)
    return None


# Vertex AI access tokens: one google-auth credentials object per row and
# service-account JSON in this process, each refreshed under its own lock, so
# the polls of every task share a token until google-auth counts it expired.


@dataclass
class _Account:
    info: dict[str, Any]
    credentials: service_account.Credentials
    lock: threading.Lock

    def forget(self, token: str) -> None:
        """The upstream refused this token: the next call fetches another."""
        with self.lock:
            if self.credentials.token == token:
                self.credentials.token = None

    def token(self, timeout: float) -> str:
        with self.lock:
            if not self.credentials.valid:
                self.credentials.refresh(_AuthRequest(timeout))
            return self.credentials.token


_accounts: dict[tuple[int | None, str], _Account] = {}
_accounts_lock = threading.Lock()


def account_for(row: Provider) -> _Account:
    value = row.credentials.get("service_account_json") or ""
    info = json.loads(value) if isinstance(value, str) else value
    if not isinstance(info, dict):
        raise ValueError("the service_account_json credential is not a JSON object")
    key = (row.pk, hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest())
    with _accounts_lock:
        account = _accounts.get(key)
        if account is None:
            for replaced in [k for k in _accounts if k[0] == row.pk]:
                del _accounts[replaced]  # the row was given another JSON
            made = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
            account = _accounts[key] = _Account(info, made, threading.Lock())
    return account


@dataclass(frozen=True)
class _AuthResponse:
    """What google-auth reads of an answer (google.auth.transport.Response)."""

    status: int
    headers: dict[str, str]
    data: bytes


class _AuthRequest(google.auth.transport.Request):
    """google-auth's token request, sent through outbound as every request of ours is.

    (google-auth's own transports need `requests` or `urllib3`; Reelgate depends on neither.)
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = min(timeout, settings.GENERATION_LEASE_SECONDS / 2)

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        seconds = min(timeout or self.timeout, self.timeout)
        try:
            # The token_uri is the admin's service-account JSON's own: private
            # addresses are allowed as for the base URL.
            response = outbound.send(
                method,
                url,
                content=body,
                headers=headers,
                timeout=seconds,
                total_timeout=seconds,
                allow_private=True,
            )
        except (outbound.FetchError, outbound.UnsafeURL) as exc:
            raise google.auth.exceptions.TransportError(str(exc)) from None
        return _AuthResponse(response.status, dict(response.headers), response.body)
