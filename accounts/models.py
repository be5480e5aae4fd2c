import base64
import secrets
import zoneinfo
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

ZERO = Decimal("0.00")


def money_field(**kwargs) -> models.DecimalField:
    """Credits: Decimal with two places, never float."""
    return models.DecimalField(max_digits=13, decimal_places=2, default=ZERO, **kwargs)


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # Budgets' calendar periods and the usage page's days are the team's.
    time_zone = models.CharField(max_length=64, default="UTC", choices=time_zone_choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


def new_webhook_secret() -> str:
    """A signing secret in the Standard Webhooks format: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Profile(models.Model):
    """A user's membership of exactly one team, their role in it, and their
    webhook signing secret.

    Roles: an owner may do everything, other owners included; an admin
    manages members, invitations and keys, but never makes an owner nor
    changes one; a member uses the team's playground, gallery and credits.
    A team always keeps at least one owner (accounts/membership.py).
    """

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    ROLES = [(OWNER, "Owner"), (ADMIN, "Admin"), (MEMBER, "Member")]

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="members")
    role = models.CharField(max_length=10, choices=ROLES, default=MEMBER)
    # Signs the user's task callbacks and webhook events. Kept in the clear:
    # the user must be able to see it again, and signing needs it. Made on
    # first use; not editable, so no form or admin page shows it.
    webhook_secret = models.CharField(max_length=100, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"

    def is_owner(self) -> bool:
        return self.role == self.OWNER

    def can_manage(self) -> bool:
        """Owners and admins manage the team's members, invitations and keys."""
        return self.role in (self.OWNER, self.ADMIN)

    def may_give(self, role: str) -> bool:
        """Whether this member may invite someone as `role` or make them `role`."""
        return self.is_owner() or (self.can_manage() and role != self.OWNER)

    def may_change(self, other: "Profile") -> bool:
        """Whether this member may change `other`'s role or remove them: an
        admin leaves owners alone."""
        return self.is_owner() or (self.can_manage() and not other.is_owner())

    def signing_secret(self) -> str:
        """The user's webhook signing secret, created on first use."""
        if not self.webhook_secret:
            # Two first uses at once (two deliveries) must agree on one secret:
            # only the first write lands, and both read back the winner.
            Profile.objects.filter(pk=self.pk, webhook_secret="").update(
                webhook_secret=new_webhook_secret()
            )
            self.webhook_secret = Profile.objects.values_list("webhook_secret", flat=True).get(
                pk=self.pk
            )
        return self.webhook_secret

    def rotate_signing_secret(self) -> str:
        """Replace the secret; every request signed from now on uses the new one."""
        self.webhook_secret = new_webhook_secret()
        Profile.objects.filter(pk=self.pk).update(webhook_secret=self.webhook_secret)
        return self.webhook_secret


class ApiKey(models.Model):
    """An API key. The secret is shown once at creation; only its digest is kept.

    Keys read `rg_` + a random token. `prefix` (the first characters) finds the
    row; the SHA-256 digest of the whole key is compared in constant time.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Invitation(models.Model):
    """An invitation to join a team with a role, sent by e-mail as a link.

    The link carries a random token shown once; only its SHA-256 digest is
    kept, as for API keys. It can be used once, until it expires or is revoked.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Profile.ROLES, default=Profile.MEMBER)
    token_digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} as {self.role}"

    def state(self, now: datetime | None = None) -> str:
        """pending, accepted, revoked or expired, as of `now`."""
        if self.accepted_at is not None:
            return self.ACCEPTED
        if self.revoked_at is not None:
            return self.REVOKED
        if self.expires_at <= (now or timezone.now()):
            return self.EXPIRED
        return self.PENDING

    def is_pending(self) -> bool:
        return self.state() == self.PENDING


class AuditEntry(models.Model):
    """One change to a team, who made it, and what it was before and after.

    Written by accounts.audit.record, never edited. The action names below
    are the ones membership changes write; other code records its own.
    """

    MEMBER_JOINED = "member.joined"
    MEMBER_LEFT = "member.left"
    MEMBER_REMOVED = "member.removed"
    ROLE_CHANGED = "member.role_changed"
    INVITATION_CREATED = "invitation.created"
    INVITATION_REVOKED = "invitation.revoked"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    BUDGET_SET = "budget.set"
    BUDGET_REMOVED = "budget.removed"
    CREDITS_GRANTED = "credits.granted"
    CREDITS_ADJUSTED = "credits.adjusted"
    ACTIONS = [
        (MEMBER_JOINED, "Member joined"),
        (MEMBER_LEFT, "Member left"),
        (MEMBER_REMOVED, "Member removed"),
        (ROLE_CHANGED, "Role changed"),
        (INVITATION_CREATED, "Invitation sent"),
        (INVITATION_REVOKED, "Invitation revoked"),
        (KEY_CREATED, "API key created"),
        (KEY_REVOKED, "API key revoked"),
        (BUDGET_SET, "Budget set"),
        (BUDGET_REMOVED, "Budget removed"),
        (CREDITS_GRANTED, "Credits granted"),
        (CREDITS_ADJUSTED, "Credits adjusted"),
    ]

    # PROTECT: a team's record outlives its members; a team left empty with
    # entries stays, memberless (accounts/teams.move_to_team). No index of
    # its own: the (team, -created_at) index below leads with it.
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="audit_entries", db_index=False
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept apart from the user row, which may be deleted or renamed later.
    actor_name = models.CharField(max_length=150, blank=True)
    # No choices: the wallet and budgets record actions of their own, and a
    # new name must not need a migration. ACTIONS only labels the known ones.
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-created_at", "-id"]
        # The team's audit page: newest first, in keyset pages.
        indexes = [models.Index(fields=["team", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target} by {self.actor_name or 'the system'}"

    def action_label(self) -> str:
        return dict(self.ACTIONS).get(self.action, self.action)


class CreditAccount(models.Model):
    """A team's wallet: the credits every member's generations hold and are
    charged from. Changed only by accounts.ledger, never edited.

    `balance` is the sum of every entry's `amount`; `held` the sum of every
    entry's `held_change` (credits reserved for generations still running).
    Each entry names the member and the API key that caused it, so spend per
    member and per key stays exact.
    """

    team = models.OneToOneField(Team, on_delete=models.PROTECT, related_name="wallet")
    balance = money_field()
    held = money_field()

    class Meta:
        constraints = [
            # The database itself refuses a write that would overspend.
            models.CheckConstraint(
                condition=Q(held__gte=0) & Q(balance__gte=models.F("held")),
                name="credit_account_not_overspent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.balance} credits"

    def available(self) -> Decimal:
        return self.balance - self.held


class CreditHold(models.Model):
    """Credits reserved for one piece of work until it is captured or released."""

    OPEN = "open"
    CAPTURED = "captured"
    RELEASED = "released"
    STATES = [(OPEN, "Open"), (CAPTURED, "Captured"), (RELEASED, "Released")]

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="holds")
    reference = models.CharField(max_length=64, unique=True)
    amount = money_field()
    captured = money_field()
    state = models.CharField(max_length=10, choices=STATES, default=OPEN)
    # Who spends: the capture and the release name them in their entries, and
    # budgets count a member's and a key's holds (accounts/budgets.py).
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # a budget's use in its period: the member's or the key's holds since it began
            models.Index(fields=["member", "created_at"], name="hold_member_since"),
            models.Index(fields=["api_key", "created_at"], name="hold_key_since"),
        ]

    def __str__(self) -> str:
        return f"hold {self.reference}: {self.amount} ({self.state})"


class LedgerEntry(models.Model):
    GRANT = "grant"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    ADJUST = "adjust"
    KINDS = [
        (GRANT, "Grant"),
        (HOLD, "Hold"),
        (CAPTURE, "Capture"),
        (RELEASE, "Release"),
        (ADJUST, "Adjust"),
    ]

    # No index of its own: the (account, -created_at) index below leads with it.
    account = models.ForeignKey(
        CreditAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    kind = models.CharField(max_length=10, choices=KINDS)
    # Change to the balance: + for grants, − for captures, ± for adjustments.
    amount = money_field()
    # Change to the held credits: + for a hold, − when it is captured or released.
    held_change = money_field()
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    note = models.CharField(max_length=200, blank=True)
    # The member and the API key whose generation caused a hold, capture or
    # release; empty for grants and adjustments (their `actor` says who).
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.reference or self.note})"


class Budget(models.Model):
    """A limit on the credits one member, or one API key, spends in a period.

    Spent means charged, plus held for generations still running, of the
    generations submitted in the current period (accounts/budgets.py). Day,
    week (from Monday) and month are calendar periods in the team's time zone.
    """

    NONE = "none"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    PERIODS = [(NONE, "Lifetime"), (DAY, "Day"), (WEEK, "Week"), (MONTH, "Month")]

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="budgets")
    # Exactly one of the two (the check constraint below).
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="budgets",
        db_index=False,
    )
    api_key = models.OneToOneField(
        ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="budget"
    )
    limit = money_field()
    period = models.CharField(max_length=8, choices=PERIODS, default=MONTH)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(member__isnull=False) & Q(api_key__isnull=True))
                | (Q(member__isnull=True) & Q(api_key__isnull=False)),
                name="budget_for_a_member_or_a_key",
            ),
            models.CheckConstraint(condition=Q(limit__gte=0), name="budget_not_negative"),
            # One budget per member of a team; also the index a submit's lookup reads.
            models.UniqueConstraint(
                fields=["member", "team"],
                condition=Q(member__isnull=False),
                name="budget_one_per_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.describe()}: {self.limit} a {self.get_period_display().lower()}"

    def describe(self) -> str:
        """Whose budget it is, as a refusal names it."""
        if self.api_key_id is not None:
            return f"API key {self.api_key.prefix}…"
        return f"member {self.member}"
