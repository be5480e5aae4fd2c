"""A loopback Google: Veo 3.1 on the Gemini API and on Vertex AI, as their docs describe them.

    with VeoServer() as google:
        google.script(Op("running"), Op("success"))       # every operation walks this
        google.on_submit(google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))
        row = google.gemini_row()     # or google.vertex_row(storage=True)
        ...
        (submit,) = google.submits

One server speaks both APIs (Google serves them from different hosts; the paths do not
overlap). Gemini: the key in `x-goog-api-key` on every call, the result file included
(403 without a key, 400 API_KEY_INVALID for a wrong one); the file answers with a
redirect to a CDN server of its own origin, which needs no key. Vertex: an OAuth token
endpoint taking the JWT-bearer grant (the assertion's RS256 signature checked against
the test key pair, its issuer, audience and scope), short-lived tokens of its own, a
Bearer token on every call (401 without one), and a Cloud Storage server for results
written to a bucket. Unknown operations answer 404; errors come in Google's
{"error": {code, message, status, details}} shape.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import parse_qs, quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from playground.models import Provider
from tests.contract.fakes import sample_mp4
from tests.httpservers import LoopbackServer, Received, Reply

API_KEY = "AIzaSyTest-7Qk2mX9vR4tL1pW8nB3cD6eF0"  # distinctive, to prove it never leaks
GEMINI_MODEL = "veo-3.1-generate-preview"
VERTEX_MODEL = "veo-3.1-generate-001"
PROJECT = "reel-test-project"
REGION = "us-central1"
CLIENT_EMAIL = f"veo-runner@{PROJECT}.iam.gserviceaccount.com"
BUCKET = "reel-veo-out"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth signs for this audience whatever the token_uri is.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


@functools.cache
def signing_key(name: str = "ours") -> rsa.RSAPrivateKey:
    """An RSA key pair for a test service account (another name: a stranger's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_json(
    token_uri: str, key: rsa.RSAPrivateKey | None = None, key_id: str = "3f1c0ffee5ab"
) -> str:
    """A service-account key file as the Cloud console hands it out."""
    pem = (key or signing_key()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": key_id,
            "private_key": pem.decode(),
            "client_email": CLIENT_EMAIL,
            "client_id": "104455667788990011223",
            "token_uri": token_uri,
        }
    )


def google_error(
    code: int, status: str, message: str, *, details: list | None = None, **fields: Any
) -> Reply:
    error = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return Reply.json({"error": error}, status=code, **fields)


def retry_info(delay: str) -> dict[str, str]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


KEY_INVALID = google_error(
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
)
NO_KEY = google_error(
    403,
    "PERMISSION_DENIED",
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API.",
)
NO_TOKEN = google_error(
    401,
    "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential.",
)
# Parameters the Gemini API refuses (the SDK raises before sending them).
NOT_ON_GEMINI = (
    "seed generateAudio storageUri fps pubsubTopic mask compressionQuality resizeMode".split()
)


@dataclass(frozen=True)
class Op:
    """One poll answer: running, success, filtered (safety), failed (an error), or a `done` value.

    `message` is the error's or the filter's words; `code` the error's google.rpc code.
    """

    state: str = "running"
    message: str = ""
    code: int = 13
    done: Any = None  # sent as is, for states the client must not know
    video_uri: str | None = None  # success: another URI than the server's own file


@dataclass
class Operation:
    name: str
    api: str  # gemini or vertex
    storage_uri: str = ""
    polls: int = 0


class VeoServer:
    def __init__(
        self,
        *,
        gemini_model: str = GEMINI_MODEL,
        vertex_model: str = VERTEX_MODEL,
        project: str = PROJECT,
    ) -> None:
        self.server, self.cdn, self.storage = LoopbackServer(), LoopbackServer(), LoopbackServer()
        self.gemini_model, self.vertex_model, self.project = gemini_model, vertex_model, project
        self.key = API_KEY
        # Each server's service account is a new one (a new key id), never cached before.
        self.key_id = secrets.token_hex(6)
        self.operations: dict[str, Operation] = {}
        self.token_lifetime = 3600  # seconds, as the tokens' expires_in says
        self.tokens: dict[str, float] = {}  # token -> when it expires (monotonic)
        self.files_expired = False
        self._steps: list[Op | Reply] = [Op("success")]
        self._submit_replies: list[Reply] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # Lifecycle and rows

    def __enter__(self) -> Self:
        for server in (self.server, self.cdn, self.storage):
            server.start()
        self.url = self.server.url
        route = self.server.route
        route(self.gemini_path(":predictLongRunning"), self._gemini_submit, method="POST")
        route(self.gemini_path(), self._gemini_model_info, method="GET")
        route(self.vertex_path(":predictLongRunning"), self._vertex_submit, method="POST")
        route(self.vertex_path(":fetchPredictOperation"), self._vertex_fetch, method="POST")
        route(f"/v1/publishers/google/models/{self.vertex_model}", self._vertex_model_info)
        route("/token", self._token, method="POST")
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in (self.server, self.cdn, self.storage):
            server.stop()

    def gemini_path(self, verb: str = "") -> str:
        return f"/v1beta/models/{self.gemini_model}{verb}"

    def vertex_path(self, verb: str = "") -> str:
        return (
            f"/v1/projects/{self.project}/locations/{REGION}/publishers/google/models/"
            f"{self.vertex_model}{verb}"
        )

    def gemini_row(self, **fields: Any) -> Provider:
        fields.setdefault("credentials", {"api_key": self.key})
        return self._row("gemini", fields)

    def vertex_row(self, *, storage: bool = False, **fields: Any) -> Provider:
        fields.setdefault("credentials", {"service_account_json": self.service_account()})
        options = {"auth": "vertex", "project": self.project, "region": REGION}
        if storage:
            options.update(storage_uri=f"gs://{BUCKET}/veo", storage_base_url=self.storage.url)
        fields["options"] = {**options, **fields.get("options", {})}
        return self._row("vertex", fields)

    def _row(self, api: str, fields: dict[str, Any]) -> Provider:
        fields.setdefault("name", f"google veo {api}")
        fields.setdefault("base_url", self.url)
        fields.setdefault("priority", 10)
        return Provider.objects.create(kind=Provider.GOOGLE_VEO, **fields)

    def service_account(self, key: rsa.RSAPrivateKey | None = None) -> str:
        return service_account_json(self.url + "/token", key, self.key_id)

    # Scripting

    def script(self, *steps: Op | Reply) -> None:
        """What every operation's polls answer, in turn; the last one repeats."""
        with self._lock:
            self._steps = list(steps)

    def on_submit(self, *replies: Reply) -> None:
        """Answer the next submits with these, in turn, before answering normally."""
        with self._lock:
            self._submit_replies = list(replies)

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # What arrived

    @property
    def submits(self) -> list[Received]:
        paths = (self.gemini_path(":predictLongRunning"), self.vertex_path(":predictLongRunning"))
        return [r for r in self.server.requests if r.path in paths]

    @property
    def polls(self) -> list[Received]:
        return [r for r in self.server.requests if "/operations/" in r.path or "fetch" in r.path]

    @property
    def token_requests(self) -> list[Received]:
        return self.server.requests_to("/token")

    @property
    def every_request(self) -> list[Received]:
        return self.server.requests + self.cdn.requests + self.storage.requests

    # Gemini API

    def _key_refusal(self, request: Received) -> Reply | None:
        key = request.header("x-goog-api-key")
        if key is None:
            return NO_KEY
        return None if key == self.key else KEY_INVALID

    def _gemini_submit(self, request: Received) -> Reply:
        refusal = self._key_refusal(request) or self._scripted_submit()
        if refusal:
            return refusal
        body = request.json()
        refused = [name for name in NOT_ON_GEMINI if name in body.get("parameters", {})]
        if refused:
            return google_error(
                400, "INVALID_ARGUMENT", f"`{refused[0]}` isn't supported by this model."
            )
        return self._accepted(body, f"models/{self.gemini_model}/operations/", "gemini")

    def _gemini_model_info(self, request: Received) -> Reply:
        refusal = self._key_refusal(request)
        methods = ["predictLongRunning"]
        return refusal or Reply.json(
            {"name": f"models/{self.gemini_model}", "supportedGenerationMethods": methods}
        )

    def _gemini_poll(self, request: Received) -> Reply:
        refusal = self._key_refusal(request)
        return refusal or self._answer(request.path.removeprefix("/v1beta/"))

    def _gemini_file(self, request: Received) -> Reply:
        refusal = self._key_refusal(request)
        if refusal:
            return refusal
        if self.files_expired:
            return google_error(404, "NOT_FOUND", "File not found or expired.")
        # The bytes come from another host, as Google's download redirects do.
        return Reply.redirect(self.cdn.url_for(f"/cdn{request.path}.mp4?sig=abc"))

    # Vertex AI

    def _token(self, request: Received) -> Reply:
        form = {name: values[0] for name, values in parse_qs(request.text).items()}
        if request.header("Content-Type") != "application/x-www-form-urlencoded":
            return oauth_error("invalid_request", "Bad content type.")
        if form.get("grant_type") != JWT_BEARER:
            return oauth_error("unsupported_grant_type", "Invalid grant_type.")
        claims = verified_claims(form.get("assertion", ""))
        if claims is None:
            return oauth_error("invalid_grant", "Invalid JWT Signature.")
        if claims.get("iss") != CLIENT_EMAIL or claims.get("aud") != TOKEN_AUDIENCE:
            return oauth_error("invalid_grant", "Invalid JWT: issuer or audience.")
        if SCOPE not in str(claims.get("scope")).split() or claims.get("exp", 0) < time.time():
            return oauth_error("invalid_scope", "Invalid JWT: scope or expiry.")
        with self._lock:
            token = f"ya29.test-token-{next(self._ids)}"
            self.tokens[token] = time.monotonic() + self.token_lifetime
        body = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        return Reply.json(body)

    def _authorized(self, request: Received) -> bool:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        with self._lock:
            return scheme == "Bearer" and self.tokens.get(token, 0) > time.monotonic()

    def _vertex_submit(self, request: Received) -> Reply:
        if not self._authorized(request):
            return NO_TOKEN
        refusal = self._scripted_submit()
        if refusal:
            return refusal
        body = request.json()
        prefix = self.vertex_path("/operations/").removeprefix("/v1/")
        return self._accepted(body, prefix, "vertex")

    def _vertex_fetch(self, request: Received) -> Reply:
        if not self._authorized(request):
            return NO_TOKEN
        return self._answer(request.json().get("operationName", ""))

    def _vertex_model_info(self, request: Received) -> Reply:
        if not self._authorized(request):
            return NO_TOKEN
        return Reply.json({"name": f"publishers/google/models/{self.vertex_model}"})

    def _storage_object(self, request: Received) -> Reply:
        if not self._authorized(request):
            return NO_TOKEN
        if self.files_expired:
            return google_error(404, "NOT_FOUND", "No such object.")
        return Reply(body=sample_mp4(), headers={"Content-Type": "video/mp4"})

    # Operations

    def _scripted_submit(self) -> Reply | None:
        with self._lock:
            return self._submit_replies.pop(0) if self._submit_replies else None

    def _accepted(self, body: dict, prefix: str, api: str) -> Reply:
        instances, parameters = body.get("instances"), body.get("parameters") or {}
        if not isinstance(instances, list) or not instances or not instances[0].get("prompt"):
            return google_error(400, "INVALID_ARGUMENT", "A prompt is required.")
        if parameters.get("aspectRatio") not in ("16:9", "9:16"):
            return google_error(400, "INVALID_ARGUMENT", "Unsupported aspect ratio.")
        if parameters.get("durationSeconds") not in (4, 6, 8):
            return google_error(400, "INVALID_ARGUMENT", "durationSeconds must be 4, 6 or 8.")
        with self._lock:
            name = f"{prefix}op{next(self._ids)}x7k"
            storage = parameters.get("storageUri", "")
            self.operations[name] = Operation(name, api, storage)
        if api == "gemini":
            self.server.route(f"/v1beta/{name}", self._gemini_poll, method="GET")
        return Reply.json({"name": name})

    def _answer(self, name: str) -> Reply:
        with self._lock:
            operation = self.operations.get(name)
            if operation is None:
                return google_error(404, "NOT_FOUND", f"Operation {name} not found.")
            step = self._steps[min(operation.polls, len(self._steps) - 1)]
            operation.polls += 1
        if isinstance(step, Reply):
            return step
        return Reply.json(self._operation(operation, step))

    def _operation(self, operation: Operation, step: Op) -> dict[str, Any]:
        answer: dict[str, Any] = {"name": operation.name}
        if step.done is not None:
            return {**answer, "done": step.done}
        if step.state == "running":
            answer["metadata"] = {"@type": "type.googleapis.com/VideoGenerationMetadata"}
            return answer
        answer["done"] = True
        if step.state == "failed":
            answer["error"] = {"code": step.code, "message": step.message}
            return answer
        result: dict[str, Any] = {"raiMediaFilteredCount": 0}
        if step.state == "filtered":
            result = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [step.message]}
        elif step.state == "success":
            result |= self._video(operation, step)
        if operation.api == "gemini":
            result = {"generateVideoResponse": result}
        answer["response"] = {"@type": "type.googleapis.com/PredictLongRunningResponse", **result}
        return answer

    def _video(self, operation: Operation, step: Op) -> dict[str, Any]:
        file_id = operation.name.rpartition("/")[2]
        if operation.api == "gemini":
            uri = step.video_uri or self.url + f"/v1beta/files/{file_id}:download?alt=media"
            self.server.route(f"/v1beta/files/{file_id}:download", self._gemini_file)
            self.cdn.route(f"/cdn/v1beta/files/{file_id}:download.mp4", body=sample_mp4())
            return {"generatedSamples": [{"video": {"uri": uri}}]}
        if not operation.storage_uri:
            encoded = base64.b64encode(sample_mp4()).decode()
            return {"videos": [{"bytesBase64Encoded": encoded, "mimeType": "video/mp4"}]}
        bucket, _, prefix = operation.storage_uri.removeprefix("gs://").partition("/")
        obj = f"{prefix}/{file_id}/sample_0.mp4"
        self.storage.route(f"/storage/v1/b/{bucket}/o/{quote(obj, safe='')}", self._storage_object)
        return {"videos": [{"gcsUri": f"gs://{bucket}/{obj}", "mimeType": "video/mp4"}]}


def oauth_error(error: str, description: str) -> Reply:
    return Reply.json({"error": error, "error_description": description}, status=400)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verified_claims(assertion: str) -> dict[str, Any] | None:
    """The JWT's claims when its RS256 signature is the test key's, else None."""
    try:
        header, payload, signature = assertion.split(".")
        signing_key().public_key().verify(
            _b64url(signature),
            f"{header}.{payload}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        if json.loads(_b64url(header)).get("alg") != "RS256":
            return None
        return json.loads(_b64url(payload))
    except (ValueError, InvalidSignature):
        return None
