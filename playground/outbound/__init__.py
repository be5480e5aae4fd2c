"""Every server-side HTTP request Reelgate makes goes through this package.

    from playground import outbound

    outbound.check_url(url)                      # early 422 for a callback URL
    outbound.callback_url_error(url)             # the same, as a message for a person
    fetched = outbound.fetch_to_file(url, path, max_bytes=..., allowed_types=outbound.IMAGE_TYPES)
    answer = outbound.send("POST", callback_url, content=signed_body, headers=...)
    stored = outbound.download_to(result_url, "results/abc", max_bytes=..., allow_private=True)

The SSRF guard refuses URLs that are not http(s), that carry a user name or
password, or whose host resolves (every address it resolves to, on every
redirect hop, checked at connection time and connected to as checked) to a
loopback, private, link-local, multicast, reserved, unspecified or shared
(100.64.0.0/10) address, including the IPv6 forms that embed such an IPv4
address. It is lifted:

- per call with `allow_private=True`, for URLs an admin configured (upstream
  providers, which may be another Reelgate on the LAN);
- everywhere by the setting ALLOW_PRIVATE_URLS (development, tests);
- for listed networks only by the setting ALLOWED_PRIVATE_NETWORKS, a list
  of CIDRs (e.g. ["10.1.2.0/24", "fd00:1::/64"]; a comma-separated string is
  accepted too). Read with getattr(settings, "ALLOWED_PRIVATE_NETWORKS", [])
  at call time; an invalid entry raises ImproperlyConfigured.

Both settings are read at every call, so tests can change them with
pytest-django's `settings` fixture.
"""

from .async_sending import send_async, upstream_client
from .client import USER_AGENT, close_clients
from .errors import FetchError, UnsafeURL
from .exchange import MAX_REDIRECTS
from .fetching import Fetched, Stored, download_to, fetch_to_file, human_size
from .guard import callback_url_error, check_url, classify
from .sending import DEFAULT_MAX_RESPONSE_BYTES, OutboundResponse, send
from .sniff import IMAGE_TYPES, SNIFF_BYTES, VIDEO_TYPES, extension_for, sniff_type

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "IMAGE_TYPES",
    "MAX_REDIRECTS",
    "SNIFF_BYTES",
    "USER_AGENT",
    "VIDEO_TYPES",
    "FetchError",
    "Fetched",
    "OutboundResponse",
    "Stored",
    "UnsafeURL",
    "callback_url_error",
    "check_url",
    "classify",
    "close_clients",
    "download_to",
    "extension_for",
    "fetch_to_file",
    "human_size",
    "send",
    "send_async",
    "sniff_type",
    "upstream_client",
]
