import base64
import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models
from django.utils import timezone

from accounts.models import ApiKey, Team, money_field
from playground.secretbox import SealedJSONField
from playground.storage import absolute_url


def new_task_id() -> str:
    """An opaque, unguessable public id: 120 random bits in lowercase base32."""
    token = base64.b32encode(secrets.token_bytes(15)).decode().lower()
    return f"gen_{token}"


class Provider(models.Model):
    """Where generations of a model are made: the local renderer or an upstream.

    Routing (playground/providers/routing.py) tries the enabled providers that
    serve a model by ascending priority, then by their cost for it, then by
    weight; a provider whose circuit breaker is open is passed over while
    another serves the model. The first whose submit is accepted makes the
    generation.
    """

    LOCAL = "local"
    JOBS = "jobs"
    VIDEO_GENERATIONS = "video_generations"
    GENERATE_TASK = "generate_task"
    KIE_VEO = "kie_veo"
    KLING = "kling"
    GOOGLE_VEO = "google_veo"
    FAL = "fal"
    REPLICATE = "replicate"
    OPENAI_VIDEOS = "openai_videos"
    KINDS = [
        (LOCAL, "Local renderer (offline previews)"),
        (JOBS, "Jobs API (createTask / recordInfo)"),
        (VIDEO_GENERATIONS, "Video generations API (/video/generations)"),
        (GENERATE_TASK, "generateTask API (/generateTask/{model})"),
        (KIE_VEO, "Kie.ai Veo 3.1 API (/veo/generate)"),
        (KLING, "Kling official API"),
        (GOOGLE_VEO, "Google Veo (Gemini API or Vertex AI)"),
        (FAL, "fal queue API"),
        (REPLICATE, "Replicate predictions"),
        (OPENAI_VIDEOS, "OpenAI-style /v1/videos (new-api, LiteLLM, Reelgate)"),
    ]

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=KINDS)
    base_url = models.URLField(blank=True, help_text="blank: the kind's public API (not for local)")
    # API keys, secret keys, service-account JSON: encrypted in the column
    # (playground/secretbox.py), never shown back, logged or put in a URL.
    credentials = SealedJSONField(default=dict, blank=True)
    # What the kind needs that is not secret, e.g. a Vertex project and region.
    options = models.JSONField(default=dict, blank=True)
    # Our model id -> the upstream's model (or app) name, over the kind's
    # built-in table; a model in neither is sent under our own id.
    model_map = models.JSONField(default=dict, blank=True)
    # Model ids this provider serves; empty means every model in the catalog.
    model_ids = models.JSONField(default=list, blank=True)
    # Our model id -> what one generation costs us there, in USD; routing
    # tries the cheapest first within a priority.
    costs = models.JSONField(default=dict, blank=True)
    priority = models.IntegerField(default=100, help_text="lower runs first")
    weight = models.PositiveIntegerField(
        default=1, help_text="share of the work among providers of one priority and cost"
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # The circuit breaker (playground/providers/breaker.py).
    failure_streak = models.PositiveIntegerField(default=0)
    cooldown_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    def serves(self, model_id: str) -> bool:
        return not self.model_ids or model_id in self.model_ids

    def cost_for(self, model_id: str) -> Decimal | None:
        """What one generation of the model costs us here (USD), when configured."""
        value = self.costs.get(model_id)
        if value is None or isinstance(value, bool):
            return None
        try:
            return Decimal(str(value))
        except ArithmeticError:
            return None

    @property
    def cooling_until(self):
        """When the open circuit breaker lets the provider be tried again; None when closed."""
        if self.cooldown_until is None or self.cooldown_until <= timezone.now():
            return None
        return self.cooldown_until

    @property
    def api_key(self) -> str:
        return self.credentials.get("api_key", "")

    @property
    def masked_credentials(self) -> str:
        """Which credentials are set, each shown by its last two characters at most."""
        return ", ".join(
            f"{name} …{value[-2:]}" if len(value) > 12 else f"{name} …"
            for name, value in sorted(self.credentials.items())
        )


class Generation(models.Model):
    """One video generation, from acceptance to its result or failure.

    The row is the source of truth; the queue only makes dispatch fast. Its
    changes are made in playground/lifecycle.py, each with its
    GenerationEvent row; services.submit() inserts the row already queuing
    and writes that first event itself.
    """

    # services.submit() creates rows queuing, credits held, in the transaction
    # that queues them; the sweeper queues again any whose hand-off was lost.
    QUEUING = "queuing"  # credits held, handed to the queue, not started
    GENERATING = "generating"  # a worker or an upstream is making it
    SUCCESS = "success"
    FAIL = "fail"
    STATES = [
        (QUEUING, "Queuing"),
        (GENERATING, "Generating"),
        (SUCCESS, "Success"),
        (FAIL, "Fail"),
    ]
    UNFINISHED = (QUEUING, GENERATING)
    FINISHED = (SUCCESS, FAIL)

    class FailCode(models.TextChoices):
        """Why a generation failed (DESIGN §4); fail_msg says the rest."""

        CONTENT_VIOLATION = "CONTENT_VIOLATION"
        INVALID_IMAGE_URL = "INVALID_IMAGE_URL"
        UPSTREAM_ERROR = "UPSTREAM_ERROR"
        UPSTREAM_AMBIGUOUS = "UPSTREAM_AMBIGUOUS"
        TIMEOUT = "TIMEOUT"
        CANCELLED = "CANCELLED"
        WORKER_LOST = "WORKER_LOST"
        INTERNAL_ERROR = "INTERNAL_ERROR"

    SOURCE_API = "api"
    SOURCE_PLAYGROUND = "playground"
    SOURCES = [(SOURCE_API, "API"), (SOURCE_PLAYGROUND, "Playground")]

    # Unique by the constraint below. Neither task_id nor the two foreign keys
    # have an index of their own: every createTask writes each index, and
    # these would only repeat the constraint's and gen_team_recent's and
    # gen_owner_recent's leading columns (and, for task_id, a LIKE index
    # nothing uses).
    task_id = models.CharField(max_length=40, default=new_task_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="generations",
        db_index=False,
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="generations", db_index=False
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    source = models.CharField(max_length=12, choices=SOURCES, default=SOURCE_API)
    # Which contract created it (jobs, video_generations, generate_task,
    # openai, replicate, playground): callbacks speak that contract's states.
    contract = models.CharField(max_length=24, default="jobs")
    model_id = models.CharField(max_length=100)
    # The model name as the client sent it (an alias), echoed back to it.
    model_name = models.CharField(max_length=100, blank=True)
    input = models.JSONField(default=dict)  # normalized by the catalog validator
    request = models.JSONField(default=dict, blank=True)  # as sent, for `param`
    remixed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes"
    )

    state = models.CharField(max_length=12, choices=STATES, default=QUEUING)
    progress = models.PositiveSmallIntegerField(default=0)
    fail_code = models.CharField(max_length=40, blank=True, choices=FailCode.choices)
    fail_msg = models.TextField(blank=True)

    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    upstream_ref = models.CharField(max_length=200, blank=True)
    # What the provider needs to poll, fetch and cancel beyond the id: the
    # URLs an upstream handed out, the endpoint the task was sent to.
    upstream_state = models.JSONField(default=dict, blank=True)
    # What the upstream charged us (reported, or the provider's configured cost).
    upstream_cost_usd = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    poll_errors = models.PositiveIntegerField(default=0)
    deadline_at = models.DateTimeField(null=True, blank=True)

    video = models.FileField(upload_to="generations/", max_length=300, blank=True)
    poster = models.FileField(upload_to="generations/", max_length=300, blank=True)
    duration = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    has_audio = models.BooleanField(default=False)

    quoted_credits = money_field()
    charged_credits = money_field()
    price_breakdown = models.CharField(max_length=200, blank=True)

    callback_url = models.URLField(max_length=2000, blank=True)
    # The origin the client called us on (scheme://host), for absolute result
    # URLs in callbacks when PUBLIC_BASE_URL is not set.
    base_url = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)

    # A worker owns a generation while its lease runs; an expired lease
    # means the worker died and the sweeper hands the work out again.
    lease_holder = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Set when a client deleted the video (OpenAI's DELETE /v1/videos/{id}):
    # its files are gone, the row stays as the record of what was charged.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the team gallery, newest first, optionally by state or model
            models.Index(fields=["team", "-created_at"], name="gen_team_recent"),
            models.Index(fields=["team", "state", "-created_at"], name="gen_team_state"),
            models.Index(fields=["team", "model_id", "-created_at"], name="gen_team_model"),
            models.Index(fields=["owner", "-created_at"], name="gen_owner_recent"),
            # the API's limit on unfinished tasks per key: only unfinished rows
            models.Index(
                fields=["api_key"],
                condition=models.Q(state__in=["queuing", "generating"]),
                name="gen_key_unfinished",
            ),
            # the sweeper: unfinished work whose lease or poll is due
            models.Index(fields=["state", "lease_expires_at"], name="gen_state_lease"),
            models.Index(fields=["state", "next_poll_at"], name="gen_state_poll"),
            # The gallery's prompt search has an index on each database that
            # is not declared here (a trigram GIN index on PostgreSQL, an FTS5
            # table and its triggers on SQLite): playground/search.py.
        ]
        constraints = [
            models.UniqueConstraint(fields=["task_id"], name="gen_unique_task_id"),
            # Idempotency-Key: one generation per key and API key.
            models.UniqueConstraint(
                fields=["api_key", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="gen_unique_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} ({self.model_id}, {self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in self.FINISHED

    @property
    def prompt(self) -> str:
        return str(self.input.get("prompt", ""))

    @property
    def cost_time_ms(self) -> int | None:
        if self.completed_at is None:
            return None
        started = self.started_at or self.created_at
        return max(0, int((self.completed_at - started).total_seconds() * 1000))

    @property
    def hold_reference(self) -> str:
        return f"generation:{self.task_id}"


class GenerationEvent(models.Model):
    """Every state change and worker attempt of a generation, in order."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12)
    note = models.TextField(blank=True)
    worker = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state or '∅'} → {self.to_state}"


class Favourite(models.Model):
    """A member's star on one of the team's generations: each member has their own."""

    # No index of its own: the unique constraint's leading column serves
    # "this member's favourites" and "has this member starred it".
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="favourites",
        db_index=False,
    )
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "generation"], name="favourite_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.generation_id}"

    @classmethod
    def star(cls, user, generation: Generation, starred: bool) -> None:
        """Set the member's star on the generation: setting it twice is harmless."""
        if starred:
            # get_or_create re-reads after losing a race on the unique constraint.
            cls.objects.get_or_create(user=user, generation=generation)
        else:
            cls.objects.filter(user=user, generation=generation).delete()


class Upload(models.Model):
    """A file a user uploaded to use as a generation input (a start image, a motion video).

    It lives in the default storage at `uploads/<file_id>/<name>`, an
    unguessable path. Until a generation uses it (`used_at`) it is temporary:
    the sweeper deletes unused uploads after UPLOAD_RETENTION_HOURS.
    """

    file_id = models.CharField(max_length=40, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploads"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="uploads")
    storage_name = models.CharField(max_length=300, unique=True)
    original_name = models.CharField(max_length=255, blank=True)
    mime_type = models.CharField(max_length=50)
    size_bytes = models.BigIntegerField()
    # Hex digests of the stored bytes (blank for uploads stored before they were kept).
    md5 = models.CharField(max_length=32, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    # What the uploader attached (the Replicate files API's `metadata`), returned as sent.
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the sweeper: unused uploads past their retention
            models.Index(fields=["used_at", "created_at"], name="upload_unused_age"),
            # a team's uploads, newest first (GET /v1/files)
            models.Index(fields=["team", "-created_at"], name="upload_team_recent"),
        ]

    def __str__(self) -> str:
        return self.storage_name

    @property
    def file_name(self) -> str:
        return self.storage_name.rsplit("/", 1)[-1]

    @property
    def expires_at(self):
        """When the upload is deleted unless a generation uses it first."""
        return self.created_at + timedelta(hours=settings.UPLOAD_RETENTION_HOURS)

    def public_url(self, request_base_url: str) -> str:
        """The file's absolute URL: on PUBLIC_BASE_URL when set, else on the
        requesting host (`request_base_url`), unless the storage gives absolute URLs."""
        url = default_storage.url(self.storage_name)
        return absolute_url(url, settings.PUBLIC_BASE_URL or request_base_url)


class UsageTotals(models.Model):
    """What some finished generations came to: the sums every usage rollup keeps.

    The rollups (UsageDay and its two summaries below) are added to by
    playground/usage.py in the transaction that settles each generation
    (lifecycle.succeed and lifecycle.fail), so they always agree with the
    ledger. Their `day` is the date the generation finished in the team's
    time zone at that moment.

    The time from submit to success is kept exactly as a sum (`success_ms`)
    and, for the median and the p95, as counts in fixed ranges: took_2s
    counts successes that took at most 2 s, took_5s those above 2 s and at
    most 5 s, and so on; took_more those above the last bound.
    """

    # Upper bounds in seconds of the time ranges, each with its count column below.
    DURATION_BOUNDS = (
        2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 3600,
    )  # fmt: skip

    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    charged_credits = money_field()
    # Submit (created_at) to success (completed_at), each success's rounded down to the ms.
    success_ms = models.BigIntegerField(default=0)

    took_2s = models.PositiveIntegerField(default=0)
    took_5s = models.PositiveIntegerField(default=0)
    took_10s = models.PositiveIntegerField(default=0)
    took_15s = models.PositiveIntegerField(default=0)
    took_20s = models.PositiveIntegerField(default=0)
    took_30s = models.PositiveIntegerField(default=0)
    took_45s = models.PositiveIntegerField(default=0)
    took_60s = models.PositiveIntegerField(default=0)
    took_90s = models.PositiveIntegerField(default=0)
    took_120s = models.PositiveIntegerField(default=0)
    took_180s = models.PositiveIntegerField(default=0)
    took_240s = models.PositiveIntegerField(default=0)
    took_300s = models.PositiveIntegerField(default=0)
    took_420s = models.PositiveIntegerField(default=0)
    took_600s = models.PositiveIntegerField(default=0)
    took_900s = models.PositiveIntegerField(default=0)
    took_1200s = models.PositiveIntegerField(default=0)
    took_1800s = models.PositiveIntegerField(default=0)
    took_3600s = models.PositiveIntegerField(default=0)
    took_more = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @classmethod
    def duration_fields(cls) -> list[str]:
        """The count columns of the time ranges, shortest first."""
        return [f"took_{bound}s" for bound in cls.DURATION_BOUNDS] + ["took_more"]

    @classmethod
    def duration_field(cls, milliseconds: int) -> str:
        """The count column of the range a success of `milliseconds` falls in."""
        for bound in cls.DURATION_BOUNDS:
            if milliseconds <= bound * 1000:
                return f"took_{bound}s"
        return "took_more"


class UsageDay(UsageTotals):
    """What one member's finished generations of one model, through one API key,
    at one provider, came to on one day: the rollup the usage page's CSV, its
    per-key and per-provider views and every view of one member's own usage read.

    The API key and the provider are kept by name, not by foreign key: a
    deleted key or provider keeps its history, and "none" is the empty
    string, which a unique constraint compares (NULLs it would not).
    """

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    model_id = models.CharField(max_length=100)
    api_key_prefix = models.CharField(max_length=16, blank=True)
    provider_name = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            # The upsert's arbiter, and the index of the team's reads: its days in a range.
            models.UniqueConstraint(
                fields=["team", "day", "member", "model_id", "api_key_prefix", "provider_name"],
                name="usage_day_key",
            ),
        ]
        indexes = [
            # One member's own usage: their days in a range.
            models.Index(fields=["member", "day"], name="usage_day_member"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.member_id} {self.model_id}: {self.succeeded}+{self.failed}"


class UsageMemberDay(UsageTotals):
    """UsageDay's sums per member and day, whatever the model, key or provider.

    The team's usage by member and the gallery's totals read a row per member
    and day here instead of one per member, model, key and provider: at a
    million generations a year that is 18,000 rows instead of 300,000.
    """

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "day", "member"], name="usage_member_day_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.member_id}: {self.succeeded}+{self.failed}"


class UsageModelDay(UsageTotals):
    """UsageDay's sums per model and day, whatever the member, key or provider:
    the team's usage by model and each model's times read these."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    model_id = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "day", "model_id"], name="usage_model_day_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model_id}: {self.succeeded}+{self.failed}"


class UsageKeyDay(UsageTotals):
    """UsageDay's sums per API key and day ('' for the playground): the team's
    usage by key reads a row per key and day, not one per member, model and
    provider too (at a million generations: 70,000 rows over 90 days)."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    api_key_prefix = models.CharField(max_length=16, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "api_key_prefix"], name="usage_key_day_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.api_key_prefix or 'playground'}: {self.succeeded}+{self.failed}"


class UsageProviderDay(UsageTotals):
    """UsageDay's sums per provider and day: the team's usage by provider."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    provider_name = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "provider_name"], name="usage_provider_day_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider_name or '-'}: {self.succeeded}+{self.failed}"


class UsageFailure(models.Model):
    """How many of one member's generations of one model failed with one code
    on one day: the failure codes beside the rollups, kept the same way."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    model_id = models.CharField(max_length=100)
    fail_code = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "member", "model_id", "fail_code"],
                name="usage_failure_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.member_id} {self.model_id} {self.fail_code}: {self.count}"


# The webhook models and the operators' heartbeat rows live in their own
# packages (playground/webhooks/, playground/ops/); importing them here registers them.
from playground.ops.models import Heartbeat  # noqa: E402, F401
from playground.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint  # noqa: E402, F401
