"""Webhook endpoints of an account, and the delivery log shared by callbacks and events.

Imported at the end of playground/models.py, so they belong to the
playground app (app label "playground").
"""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import models
from django.db.models import Q

from playground.webhooks.signing import new_message_id

VIDEO_COMPLETED = "video.completed"
VIDEO_FAILED = "video.failed"
# Sent only by "Send a test event"; never subscribed to.
WEBHOOK_TEST = "webhook.test"
# The event_type of a callback sent when a generation starts, for contracts
# whose callbacks include one (Replicate's `start` webhook). The callback
# sent when it finishes has none.
CALLBACK_START = "start"
EVENT_TYPES = [
    (VIDEO_COMPLETED, "video.completed — a generation succeeded"),
    (VIDEO_FAILED, "video.failed — a generation failed"),
]


def shown_url(url: str) -> str:
    """A URL without its query string and credentials, for lists and logs.

    Callback URLs often carry a token in the query.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class WebhookEndpoint(models.Model):
    """A URL that receives the account's events (video.completed, video.failed)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)  # a subset of the EVENT_TYPES names
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return shown_url(self.url)

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.events


class Delivery(models.Model):
    """One message to one URL, with every attempt at sending it.

    `body` is the exact JSON text POSTed (UTF-8), fixed when the delivery is
    made, so every attempt sends (and signs) the same bytes. The signature
    and timestamp are made per attempt.
    """

    CALLBACK = "callback"  # the task's callBackUrl, in its contract's words
    EVENT = "event"  # an account webhook endpoint
    KINDS = [(CALLBACK, "Task callback"), (EVENT, "Webhook event")]

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    STATUSES = [(PENDING, "Pending"), (DELIVERED, "Delivered"), (FAILED, "Failed")]

    kind = models.CharField(max_length=10, choices=KINDS)
    # An event's type; for a callback, CALLBACK_START or "" (the finish callback).
    event_type = models.CharField(max_length=40, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries"
    )
    generation = models.ForeignKey(
        "playground.Generation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # Kept when the endpoint is deleted, so the log survives; a delivery
    # whose endpoint is gone is not attempted again.
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    # The generation's public id ("test" for test events): signed in X-Webhook-Signature.
    task_id = models.CharField(max_length=40, blank=True)
    url = models.URLField(max_length=2000)
    # The webhook-id header: the same on every attempt, for receivers to dedupe.
    message_id = models.CharField(max_length=40, unique=True, default=new_message_id)
    body = models.TextField()

    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    # When the next attempt is due. While a task for it is in the queue, the
    # time after which the sweeper dispatches it again (the queue lost it).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A round is the first attempt and its retries; "redeliver" starts a new
    # one. Its position picks the next retry interval and its start the end
    # of the retry window.
    round_started_at = models.DateTimeField(null=True, blank=True)
    round_attempts = models.PositiveIntegerField(default=0)
    # The worker sending it. A live lease means "being sent": nobody else
    # claims it; an expired one means the worker died.
    lease_holder = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            # the sweeper: pending deliveries whose next attempt is due
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            # the account page: a user's recent deliveries
            models.Index(fields=["user", "-created_at"], name="delivery_user_recent"),
        ]
        constraints = [
            # The hand-off after a generation finishes makes each delivery
            # once, even if it runs twice.
            models.UniqueConstraint(
                fields=["generation", "event_type"],
                condition=Q(kind="callback"),
                name="delivery_one_callback_per_event",
            ),
            models.UniqueConstraint(
                fields=["generation", "endpoint", "event_type"],
                condition=Q(kind="event"),
                name="delivery_one_event_per_endpoint",
            ),
        ]

    def __str__(self) -> str:
        what = self.event_type or "callback"
        return f"{what} {self.task_id} → {shown_url(self.url)} ({self.status})"

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)

    @property
    def is_pending(self) -> bool:
        return self.status == self.PENDING


class DeliveryAttempt(models.Model):
    """One POST of a delivery (or the reason it could not be made)."""

    EXCERPT_CHARS = 500

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # HTTP status, if answered
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)  # the answer's first characters
    error = models.TextField(blank=True)  # why there was no answer, or why it was refused
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["number", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.outcome}"

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        if self.status is not None:
            return f"HTTP {self.status}"
        return self.error or "no answer"
