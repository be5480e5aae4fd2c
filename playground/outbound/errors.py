"""The two ways an outbound request can fail, both with a message a person can read."""


class UnsafeURL(ValueError):
    """The URL may not be fetched: bad scheme, credentials in it, or an address we refuse.

    The message is written for the person who gave us the URL, e.g.
    "http://10.0.0.5/x resolves to a private address (10.0.0.5); fetching it
    is not allowed."
    """


class FetchError(Exception):
    """The request was allowed but did not give us what we asked for.

    `reason` is a readable sentence; `status` is the HTTP status when the
    failure is the server's answer (404, 500, ...) and None otherwise
    (timeouts, connection errors, size or type limits).
    """

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
