"""The provider contract: how a generation is made, locally or by an upstream.

A provider turns one accepted Generation into a video. The engine
(playground/tasks.py) calls it and does everything else: leases, states,
credits, storing result files, callbacks. A provider never touches the
ledger or the generation's state.

- `start(generation, workdir, progress)` makes the video or submits it
  upstream. It returns an Outcome:
    Succeeded  the video is ready: a local file or an upstream URL to copy
    Running    an upstream accepted it under `reference`; poll it later
    Failed     it cannot be made; `code` and the upstream's real reason
  `progress(percent)` may be called while working; it returns False when the
  worker lost its lease, and the provider should then stop.
  It raises SubmitRefused when it is certain nothing was created upstream
  (connection refused, 401, 402, 422, 429): the engine then tries the next
  provider for that model. When the submit's answer was lost after the
  request went out, or was a 5xx (the task may exist all the same), it
  returns Failed(UPSTREAM_AMBIGUOUS): resubmitting could open a second paid
  task. The shared policy of upstream adapters is in upstream.py.
- `poll(generation, workdir)` asks the upstream about
  `generation.upstream_ref` (and `upstream_state`) and returns an Outcome;
  Running(progress=...) means ask again later. Transient errors raise
  PollError (counted against a budget); an unknown upstream status word is
  Running, never a failure. `workdir` is for a result that arrives in the
  answer itself rather than at a URL.
- `cancel(generation)` asks the upstream to stop, best effort.
- `verify_callback(headers, body)` says whether a callback to the
  generation's URL (wakeup.py) really comes from this provider's upstream,
  by the upstream's own signature. An upstream that does not sign is trusted
  by the unguessable token in the URL alone (the default). It raises
  CallbackUnverifiable when the keys to check with cannot be had now.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from playground.models import Generation, Provider


@dataclass(frozen=True)
class Succeeded:
    video_path: Path | None = None  # a file the provider wrote in the workdir
    video_url: str | None = None  # or the upstream's result URL, copied by the engine
    poster_path: Path | None = None
    poster_url: str | None = None
    note: str = ""
    # Headers the result URLs need (a provider's key), sent to their own
    # origin only; never stored or shown.
    download_headers: dict[str, str] = field(default_factory=dict, repr=False)
    # What the upstream reports it charged us, in USD, when it does.
    cost_usd: Decimal | None = None

    def as_ready(self) -> dict | None:
        """What a worker needs to copy this result later, as JSON; None when it cannot.

        Only a result at URLs anyone may fetch: one that needs our key (never
        stored) or that came inside the answer is polled again by the worker.
        """
        if not self.video_url or self.download_headers or self.video_path:
            return None
        return {
            "video_url": self.video_url,
            "poster_url": self.poster_url,
            "note": self.note,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
        }

    @classmethod
    def from_ready(cls, ready: dict) -> "Succeeded":
        cost = ready.get("cost_usd")
        return cls(
            video_url=ready["video_url"],
            poster_url=ready.get("poster_url"),
            note=ready.get("note", ""),
            cost_usd=None if cost is None else Decimal(cost),
        )


@dataclass(frozen=True)
class Running:
    reference: str
    progress: int | None = None  # the upstream's own figure, when it reports one
    retry_after: float | None = None  # seconds, when the upstream asked for a pace
    # What polling needs beyond the reference (URLs the upstream handed
    # out, the endpoint used), kept in Generation.upstream_state.
    state: dict | None = None


@dataclass(frozen=True)
class Failed:
    code: str
    message: str


Outcome = Succeeded | Running | Failed
ProgressFn = Callable[[int], bool]


class SubmitRefused(Exception):
    """Nothing was created upstream; the next provider may try.

    `provider_fault`: the provider could not take any work (unreachable, a
    wrong key, out of balance, rate-limited), which counts against its
    circuit breaker. A refusal of this one input (a field the upstream cannot
    make, a 400 or 422) says nothing of the provider's health.
    `retry_after`: the upstream asked to be tried again after this many seconds.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, provider_fault: bool = False
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.provider_fault = provider_fault


class PollError(Exception):
    """A transient failure to ask the upstream (network, 5xx, 429, bad JSON)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class LeaseLost(Exception):
    """The worker no longer holds the generation (another took it over): stop working on it."""


class CheckFailed(Exception):
    """A provider's test call did not succeed; the message says what it answered."""


class CallbackUnverifiable(Exception):
    """The keys that check an upstream's callback cannot be had now (its key endpoint is down)."""


class BaseProvider(ABC):
    kind: str = ""
    # Whether start() returns Running and needs polling.
    asynchronous = False
    # Whether the poller may send its submit (UpstreamProvider.submitting),
    # rather than a worker calling start().
    submits_from_poller = False
    # Whether it renders on this machine (CPU work, for the render cluster:
    # RENDER_WORKERS) rather than waiting on someone else's.
    renders = False

    def __init__(self, row: Provider):
        self.row = row

    @abstractmethod
    def start(self, generation: Generation, workdir: Path, progress: ProgressFn) -> Outcome: ...

    @abstractmethod
    def poll(self, generation: Generation, workdir: Path | None = None) -> Outcome: ...

    def cancel(self, generation: Generation) -> None:  # noqa: B027 (optional to override)
        """Best effort; providers without a cancel call do nothing."""

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a callback (header names lower-cased, the raw body) was signed by our upstream.

        True unless the upstream signs its callbacks: its URL's token is then
        all there is to check, and wakeup.py has checked it already.
        """
        return True
