"""OpenAI-style `/v1/videos`: OpenAI's video API and the gateways that speak it
(new-api, LiteLLM, another Reelgate).

    POST {base}/v1/videos               multipart/form-data: model, prompt, seconds ("5"),
                                        size ("1280x720"), input_reference (an image file),
                                        and the model's other inputs (extra fields, below)
    GET  {base}/v1/videos/{id}          {id, status, progress, error: {code, message}, metadata}
    GET  {base}/v1/videos/{id}/content  the MP4 (with the key); ?variant=thumbnail the poster
    GET  {base}/v1/models               the credential check

Sources:
- openai/openai-python `src/openai/resources/videos.py` (create sends multipart with
  `input_reference` as the file; retrieve; `download_content` at `/videos/{id}/content`),
  `src/openai/types/video.py` (status queued | in_progress | completed | failed, progress,
  error {code, message}, no URL field) and `src/openai/_base_client.py` (`_build_request`:
  multipart forced with an always-true empty files mapping, lists sent as `key[]`).
- QuantumNous/new-api `dto/openai_video.go`, `model/task.go` (upper-case task states,
  progress "NN%", the result in `metadata.url`; errors `{code, message, data}`).
- BerriAI/litellm `litellm/types/videos/main.py` (VideoObject: no URL, download via /content).
- Reelgate's own `playground/contracts/openai.py`: every body key beside OpenAI's
  parameters is taken as a model field.

The model is sent under our catalog id unless the row's model_map names another:
Reelgate and LiteLLM route by that name, new-api by its channels' model names.
`seconds` and `size` are the catalog input's own duration and frame size; OpenAI's
Sora takes only 4/8/12 s and four sizes and refuses the rest (a refusal: the next
provider tries).

Extra fields (row.options {"extra_fields": true}, the default): every catalog input
that prompt, seconds and input_reference do not carry goes beside them, as OpenAI's
SDK sends `extra_body` in a form (booleans as true/false, lists as `name[]`), so a
gateway that maps them (Reelgate) makes exactly the video that was quoted. OpenAI
itself documents only its own parameters: for it set {"extra_fields": false}; an
input that then cannot be said in OpenAI's four (sound on, a negative prompt, an end
frame...) is refused before sending, so the next provider makes it faithfully.

OpenAI's API has no cancel (DELETE removes a finished video's files), so none is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from playground import catalog
from playground.inputs import InputError, localize
from playground.models import Generation, Provider
from playground.outbound import extension_for, sniff_type
from playground.providers.base import (
    Failed,
    Outcome,
    PollError,
    ProgressFn,
    Running,
    SubmitRefused,
)
from playground.providers.localrender import RenderError, frame_size
from playground.providers.upstream import (
    SHARED_FAIL_CODES,
    Ambiguous,
    Answer,
    Call,
    UpstreamProvider,
    first_url,
)

# Status words, lower-cased: OpenAI's four, new-api's task states, LiteLLM's free string.
# new-api's UNKNOWN means it has not heard from its own upstream yet: keep polling.
RUNNING_WORDS = frozenset({"queued", "in_progress", "not_start", "submitted", "unknown"})
SUCCESS_WORDS = frozenset({"completed", "success"})
FAILURE_WORDS = frozenset({"failed", "failure"})
# OpenAI's moderation codes, and words gateways put in their failure messages.
MODERATION_CODES = frozenset(
    {"moderation_blocked", "content_policy_violation", "content_filter", "sensitive_content"}
)
MODERATION_WORDS = ("moderation", "content policy", "safety system", "policy violation", "nsfw")
# Where gateways that hand out a download URL put it (new-api: metadata.url).
URL_PLACES = (("metadata", "url"), ("metadata", "video_url"), ("video_url",), ("url",))


class _AlwaysMultipart(dict):
    """No files, yet a multipart body: httpx picks multipart only when `files` is truthy.

    openai-python's `_build_request` does the same (ForceMultipartDict); an empty
    dict would make httpx send application/x-www-form-urlencoded instead.
    """

    def __bool__(self) -> bool:
        return True


class OpenAIVideosProvider(UpstreamProvider):
    kind = Provider.OPENAI_VIDEOS
    default_base_url = "https://api.openai.com"
    models: dict[str, Any] = {}  # our catalog ids, as they are
    id_name = "video id"
    # start() fetches the input_reference image into its workdir first.
    submits_from_poller = False

    # The image file going as input_reference while a submit is under way:
    # submit_call() has no workdir to fetch it into, start() has.
    _reference: tuple[str, Any, str] | None = None

    @property
    def base_url(self) -> str:
        # Admins paste OpenAI-style base URLs with their /v1; the paths here carry it.
        url = super().base_url
        return url[: -len("/v1")] if url.endswith("/v1") else url

    @property
    def extra_fields(self) -> bool:
        return self.row.options.get("extra_fields", True) is not False

    # Submit

    def start(self, generation: Generation, workdir: Path, progress: ProgressFn) -> Outcome:
        url = reference_image(generation)[0]
        if url is None:
            return super().start(generation, workdir, progress)
        try:
            path = localize(url, workdir / "input_reference", kind="image")
        except InputError as exc:
            return Failed(Generation.FailCode.INVALID_IMAGE_URL, self.clean(str(exc)))
        with open(path, "rb") as handle:
            mime = sniff_type(handle.read(64)) or "application/octet-stream"
            handle.seek(0)
            self._reference = (f"input_reference{extension_for(mime)}", handle, mime)
            try:
                return super().start(generation, workdir, progress)
            finally:
                self._reference = None

    def submit_call(self, generation: Generation, model: Any) -> Call:
        if not isinstance(model, str) or not model.strip():
            raise SubmitRefused(f"the model map names no model for {generation.model_id}")
        spec = catalog.get_spec(generation.model_id)
        params = spec.render_params(generation.input)
        fields: dict[str, Any] = {"model": model.strip()}
        if params["prompt"]:
            fields["prompt"] = params["prompt"]
        fields["seconds"] = seconds_text(params["duration"])
        try:
            width, height = frame_size(params["aspect_ratio"], params["resolution"])
            fields["size"] = f"{width}x{height}"
        except RenderError:
            pass  # a size OpenAI's terms cannot name: the fields say it
        carried = {spec.render.prompt.field, spec.render.duration.field}
        reference_field = reference_image(generation)[1]
        if reference_field is not None:
            carried.add(reference_field)
        if self.extra_fields:
            for name, value in generation.input.items():
                if name not in carried and name not in fields:
                    fields.update(form_field(name, value))
        else:
            carried |= {spec.render.aspect_ratio.field, spec.render.resolution.field}
            refuse_uncarried(spec, generation.input, carried)
        files = {"input_reference": self._reference} if self._reference else _AlwaysMultipart()
        return Call("/v1/videos", method="POST", data=fields, files=files)

    def accepted(self, answer: Answer, generation: Generation) -> Running:
        if answer.body is None:
            raise Ambiguous(f"it answered {answer.status} with a body that is not JSON")
        video = answer.object
        reference = video.get("id") or video.get("task_id")
        if reference in (None, "") and isinstance(video.get("error"), dict):
            raise self.refusal(answer)  # a 2xx that carries only an error
        return Running(self.reference(reference))

    # Poll

    def poll_call(self, generation: Generation, model: Any) -> Call:
        return Call(self.video_path(generation))

    def video_path(self, generation: Generation) -> str:
        # LiteLLM's ids are base64 and may hold "/" or "=": one path segment whatever they hold.
        return f"/v1/videos/{quote(generation.upstream_ref, safe='')}"

    def read_status(self, answer: Answer, generation: Generation, workdir: Path | None) -> Outcome:
        video = answer.object
        word = video.get("status")
        if not isinstance(word, str) or not word.strip():
            raise PollError("the upstream's status answer has no status")
        word = word.strip().lower()
        if word in RUNNING_WORDS:
            return self.running(generation, video.get("progress"))
        if word in FAILURE_WORDS:
            return self.failure(video)
        if word in SUCCESS_WORDS:
            return self.completed(video, generation)
        return self.unknown_state(generation, word)

    def completed(self, video: dict[str, Any], generation: Generation) -> Outcome:
        url = first_url([dig(video, place) for place in URL_PLACES])
        if url is not None:
            return self.result(generation, url)
        # OpenAI, LiteLLM and Reelgate hand the bytes out at /content only, behind the key.
        content = self.base_url + self.video_path(generation) + "/content"
        return self.result(generation, content, content + "?variant=thumbnail")

    def failure(self, video: dict[str, Any]) -> Failed:
        error = video.get("error") if isinstance(video.get("error"), dict) else {}
        message = str(error.get("message") or video.get("fail_reason") or "").strip()
        code = str(error.get("code") or "").strip()
        if code in SHARED_FAIL_CODES:  # another Reelgate's own codes
            return self.failed(message, code)
        if is_moderation(code, message):
            return self.failed(message, Generation.FailCode.CONTENT_VIOLATION, upstream_code=code)
        return self.failed(message, upstream_code=code)

    # The rest of the contract

    def error_message(self, answer: Answer) -> str:
        """OpenAI's {"error": {message, type, code}} or new-api's {code, message, data}."""
        body = answer.object
        error = body.get("error")
        source = error if isinstance(error, dict) else body
        message = source.get("message")
        if not isinstance(message, str) or not message.strip():
            return super().error_message(answer)
        message = message.strip()
        code = source.get("code") or source.get("type")
        if isinstance(code, str) and code.strip() and code not in message:
            message = f"{message} ({code.strip()})"
        return message

    def check_call(self) -> Call:
        return Call("/v1/models")

    def describe_check(self, answer: Answer) -> str:
        listed = answer.object.get("data")
        if isinstance(listed, list):
            return f"credentials accepted; {len(listed)} models listed"
        return "credentials accepted"

    def download_headers(self) -> dict[str, str]:
        # /content answers only with the key; result() sends it to this origin only.
        return self.auth_headers()


def reference_image(generation: Generation) -> tuple[str | None, str | None]:
    """(the image to upload as input_reference, the field it comes from), or Nones.

    The first image of the model's render block. A list of several (a start
    and an end frame) cannot be one file: with extra fields it goes whole, as
    URLs; without, the end frame cannot be carried and the submit is refused.
    """
    spec = catalog.get_spec(generation.model_id)
    for name in spec.render.images:
        value = generation.input.get(name)
        if isinstance(value, list):
            return (value[0], name) if len(value) == 1 else (None, None)
        if isinstance(value, str) and value:
            return value, name
    return None, None


def form_field(name: str, value: Any) -> dict[str, Any]:
    """One input as form fields, as the OpenAI SDK encodes extra_body in a form."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {name: "true" if value else "false"}
    if isinstance(value, list | tuple):
        return {f"{name}[]": [str(item) for item in value]}
    return {name: str(value)}


def refuse_uncarried(spec: catalog.ModelSpec, input: dict[str, Any], carried: set) -> None:
    """Without extra fields: refuse an input OpenAI's parameters cannot say."""
    lost = [
        name
        for name, value in input.items()
        if name not in carried
        and value not in (None, "", [])
        and value != field_default(spec, name)
    ]
    if lost:
        raise SubmitRefused(
            "this provider sends only OpenAI's parameters (options extra_fields is false), "
            f"which cannot carry {', '.join(sorted(lost))}; nothing was sent"
        )


def field_default(spec: catalog.ModelSpec, name: str) -> Any:
    try:
        return spec.field(name).default
    except KeyError:
        return None


def seconds_text(duration: float) -> str:
    return str(int(duration)) if float(duration).is_integer() else str(duration)


def dig(value: Any, place: tuple[str, ...]) -> Any:
    for key in place:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def is_moderation(code: str, message: str) -> bool:
    text = f"{code} {message}".lower()
    return code.lower() in MODERATION_CODES or any(word in text for word in MODERATION_WORDS)
