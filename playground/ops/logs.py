"""The request id and the task id of the work at hand, on every log record.

A request's id is set by ops.middleware until its response is closed; a
generation's public task id is set with `task()` wherever a generation is
handled (web, worker, poller, sweeper). Both live in contextvars, so each
thread and each asyncio task of the poller keeps its own, and
`ContextFilter` (attached to the log handler in config/settings.py) copies
them onto every record: with LOG_FORMAT=json they become the `request_id`
and `task_id` keys of each line.
"""

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)

# What we accept from a client's or a proxy's X-Request-ID: enough for UUIDs
# and the ids proxies make (AWS's "Root=1-...", nginx's hex), nothing that
# could break a log line or a header.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The request id a client or proxy sent, if it is sound; otherwise a new one."""
    if header and _ACCEPTED_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def end_request(**signal) -> None:
    """Django's request_finished (a response closed): later records carry no request id.

    Set to None rather than reset with a token: a server may close the
    response in another context than the one the request ran in (ASGI).
    """
    request_id.set(None)


@contextmanager
def task(value: str | None) -> Iterator[None]:
    """Log records made inside the block carry this generation's task id (None: none)."""
    token = task_id.set(value)
    try:
        yield
    finally:
        task_id.reset(token)


class ContextFilter(logging.Filter):
    """Adds `request_id` and `task_id` (None outside a request or a generation) to records.

    Values a caller passed itself in `extra=` are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        if not hasattr(record, "task_id"):
            record.task_id = task_id.get()
        return True
