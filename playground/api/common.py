"""How values look on the wire, shared by the contracts."""

import json
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest

from playground.models import Generation


def ms(moment) -> int | None:
    """A datetime as milliseconds since the epoch (the contracts' timestamps)."""
    return int(moment.timestamp() * 1000) if moment else None


def credits_number(amount: Decimal) -> float:
    # Credits are Decimal everywhere; JSON clients expect a number. A value
    # with two decimal places prints back exactly (repr is shortest
    # round-trip), so converting here, at the edge, loses nothing.
    return float(amount)


def request_base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def base_url(generation: Generation, request: HttpRequest | None = None) -> str:
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request is not None:
        return request_base_url(request)
    return generation.base_url or "http://localhost:8000"


def absolute(url: str, base: str) -> str:
    """A storage URL made absolute: object storage hands out absolute URLs
    already; the local media storage gives paths, served on `base`."""
    return url if url.startswith(("http://", "https://")) else base + url


def file_url(generation: Generation, field, request: HttpRequest | None = None) -> str | None:
    if not field:
        return None
    return absolute(field.url, base_url(generation, request))


def result_urls(generation: Generation, request: HttpRequest | None = None) -> list[str]:
    url = file_url(generation, generation.video, request)
    return [url] if url and generation.state == Generation.SUCCESS else []


def result_object(generation: Generation, request: HttpRequest | None = None) -> dict | None:
    """The seeds' resultJson object: resultUrls always, the rest when known."""
    if generation.state == Generation.FAIL:
        return {"resultUrls": []}
    if generation.state != Generation.SUCCESS:
        return None
    return {
        "resultUrls": result_urls(generation, request),
        "videoDuration": generation.duration,
        "thumbnailUrl": file_url(generation, generation.poster, request),
        "videoSize": f"{generation.width}x{generation.height}",
        "videoModel": generation.model_id,
        "hasAudio": generation.has_audio,
    }


def json_string(value) -> str | None:
    """The seeds carry `param` and `resultJson` as JSON strings, parsed once by clients."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


def callback_url_error(url: str) -> str | None:
    """Why a callback URL cannot be used (checked at create time), or None."""
    from playground.outbound import UnsafeURL, check_url

    if len(url) > 2000:
        return "The callback URL is longer than 2000 characters."
    try:
        check_url(url)
    except UnsafeURL as exc:
        return str(exc)
    return None


def plausible_id(value: str) -> bool:
    """Whether `value` could be a task id at all; anything else is simply not found.

    Checked before the database sees it: PostgreSQL refuses a NUL character
    in a query parameter with an error, not with "no rows".
    """
    return 0 < len(value) <= 64 and value.isascii() and value.isprintable()


def team_generation(request: HttpRequest, task_id) -> Generation:
    """The caller's team's generation; anything else is 404, never 403."""
    from playground.api.errors import ApiError

    if not isinstance(task_id, str) or not task_id:
        raise ApiError(400, "taskId is required.", errors={"taskId": ["This field is required."]})
    # By the unique task id alone, with no ORDER BY (get() leaves the model's
    # ordering out): the unique index is then the only plan. With the team in
    # the WHERE clause too, PostgreSQL picked a team index and filtered the
    # whole team's rows whenever its statistics were young (bench/README.md).
    # The team comes from the key's record, so a status call reads no user.
    try:
        generation = Generation.objects.get(task_id=task_id) if plausible_id(task_id) else None
    except Generation.DoesNotExist:
        generation = None
    if generation is None or generation.team_id != request.api_key.team_id:
        raise ApiError(404, f"Task {task_id} not found.", code="not_found")
    return generation
