"""Signed request headers: Standard Webhooks and Kie's X-Webhook-Signature.

Both are keyed with the same bytes, the base64-decoded part of the user's
`whsec_…` secret:

    webhook-id: msg_…              the same on every attempt of one delivery
    webhook-timestamp: 1705123500  unix seconds of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">
    X-Webhook-Timestamp: 1705123500
    X-Webhook-Signature: <base64 HMAC-SHA256 of "{taskId}.{timestamp}">

The body signed is exactly the body sent. Receivers using the `openai` or
`standardwebhooks` libraries verify the first set; Kie-style receivers the
second; Reelgate itself checks the first set on callbacks from upstreams
that sign that way (`standard_signature_valid`, for Replicate). Nothing here
logs or returns the secret.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


class BadSecret(ValueError):
    """The stored secret is not whsec_ + base64."""


def _token() -> str:
    return base64.b32encode(secrets.token_bytes(15)).decode().lower()


def new_message_id() -> str:
    return f"msg_{_token()}"


def new_event_id() -> str:
    return f"evt_{_token()}"


def secret_key(secret: str) -> bytes:
    """The HMAC key: the bytes the base64 after `whsec_` stands for."""
    if not secret.startswith(SECRET_PREFIX):
        raise BadSecret("a signing secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise BadSecret("a signing secret is whsec_ followed by base64") from None
    if not key:
        raise BadSecret("a signing secret is empty")
    return key


def _b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def standard_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    return "v1," + _b64_hmac(key, f"{message_id}.{timestamp}.".encode() + body)


def standard_signature_valid(
    key: bytes, message_id: str, timestamp: str, body: bytes, offered: str
) -> bool:
    """Whether one of the space-separated `v1,<base64>` signatures in `offered` signs `body`.

    `timestamp` as its header gave it: the signed text is the header's. Other
    versions than v1 are skipped, as the Standard Webhooks libraries do.
    """
    expected = _b64_hmac(key, f"{message_id}.{timestamp}.".encode() + body).encode()
    for entry in offered.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


def kie_signature(key: bytes, task_id: str, timestamp: int) -> str:
    return _b64_hmac(key, f"{task_id}.{timestamp}".encode())


def headers(secret: str, *, message_id: str, task_id: str, timestamp: int, body: bytes) -> dict:
    """The headers of one signed POST of `body`."""
    key = secret_key(secret)
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(key, message_id, timestamp, body),
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": kie_signature(key, task_id, timestamp),
    }
