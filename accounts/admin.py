from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.shortcuts import render

from accounts import apikeys, audit, ledger, membership, teams
from accounts.login import AdminLoginForm
from accounts.models import (
    ApiKey,
    AuditEntry,
    Budget,
    CreditAccount,
    CreditHold,
    Invitation,
    LedgerEntry,
    Profile,
    Team,
)

User = get_user_model()

# The admin's sign-in is throttled like the login page's.
admin.site.login_form = AdminLoginForm
admin.site.site_header = "Reelgate admin"
admin.site.site_title = "Reelgate admin"
admin.site.index_title = "Teams, keys, credits and generations"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows only the app writes (through the ledger, the lifecycle...): listed
    and read here, never added or changed."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RecordAdmin(ReadOnlyAdmin):
    """A record kept for good (ledger entries, the audit log): not deleted either."""

    def has_delete_permission(self, request, obj=None):
        return False


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    # The operators' way out when a team lost its owners (a deleted user):
    # unlike the team page, the admin does not hold to "one owner remains".
    fields = ["team", "role"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count", "balance", "created_at"]
    list_select_related = ["wallet"]
    search_fields = ["name"]
    actions = ["grant_credits"]

    @admin.display(description="balance", ordering="wallet__balance")
    def balance(self, team):
        return team.wallet.balance

    @admin.action(description="Grant credits to the selected teams")
    def grant_credits(self, request, queryset):
        teams = queryset.select_related("wallet")
        return grant_to_wallets(self, request, [(team.pk, team.wallet) for team in teams])

    @admin.display(description="members")
    def member_count(self, team):
        return team.members.count()


admin.site.unregister(User)


class NewMemberForm(AdminUserCreationForm):
    """A new user: the team they join, and credits for its wallet."""

    team = forms.ModelChoiceField(
        Team.objects.order_by("name"),
        required=False,
        help_text="The team the user joins, as a member. Blank: a new team of their own "
        "(named after them), which they own.",
    )
    credits = forms.DecimalField(
        label="First grant of credits",
        required=False,
        min_value=Decimal("0.01"),
        max_digits=13,
        decimal_places=2,
        help_text="Granted to the team's wallet through the ledger as the user is created. "
        "Blank: none.",
    )


@admin.register(User)
class ReelgateUserAdmin(UserAdmin):
    list_display = ["username", "email", "team", "role", "is_staff", "is_active"]
    list_select_related = ["profile__team"]
    inlines = [ProfileInline]
    add_form = NewMemberForm
    # The team (and a new user's credits) first, where they are seen: on the
    # change page the team and role inline comes first too
    # (templates/admin/auth/user/change_form.html), not below the permission lists.
    add_fieldsets = (
        ("Team and credits", {"fields": ("team", "credits")}),
        *UserAdmin.add_fieldsets,
    )

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # The post_save receiver makes the profile: in this team, or their own.
        obj._reelgate_team = form.cleaned_data["team"]
        super().save_model(request, obj, form, change)
        credits = form.cleaned_data["credits"]
        if credits:
            wallet = teams.wallet_of(obj)
            entry = ledger.grant(wallet, credits, note="first grant", actor=request.user)
            messages.success(request, f"Granted {entry.amount} credits to {wallet.team}.")

    def save_formset(self, request, form, formset, change):
        changed = [
            (inline.instance, inline.initial.get("role"))
            for inline in formset.forms
            if isinstance(inline.instance, Profile) and "role" in inline.changed_data
        ]
        super().save_formset(request, form, formset, change)
        for profile, before in changed:
            audit.record(
                profile.team,
                request.user,
                AuditEntry.ROLE_CHANGED,
                profile.user.get_username(),
                before={"role": before},
                after={"role": profile.role},
            )

    def get_inline_instances(self, request, obj=None):
        # A new user gets a profile from the post_save receiver; an inline on
        # the add page would try to create a second one.
        return super().get_inline_instances(request, obj) if obj else []

    @admin.display(ordering="profile__team__name")
    def team(self, user):
        return user.profile.team

    @admin.display(ordering="profile__role")
    def role(self, user):
        return user.profile.get_role_display()


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke_keys"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name"]
        return ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["user", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        secret = apikeys.draw(obj)
        obj.save()
        audit.record(
            obj.user.profile.team_id,
            request.user,
            AuditEntry.KEY_CREATED,
            membership.describe_key(obj, obj.user),
            after={"prefix": obj.prefix, "name": obj.name},
        )
        messages.warning(
            request, f"The new key is {secret} — copy it now, it will not be shown again."
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = sum(membership.revoke_key(request.user, key) for key in queryset)
        messages.success(request, f"Revoked {revoked} key(s).")


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = [
        "created_at",
        "kind",
        "amount",
        "held_change",
        "reference",
        "note",
        "member",
        "api_key",
        "actor",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False


class GrantForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=13, decimal_places=2)
    note = forms.CharField(max_length=200, initial="granted by an admin")


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ["team", "balance", "held", "available_credits"]
    search_fields = ["team__name", "team__members__user__username"]
    list_select_related = ["team"]
    readonly_fields = ["team", "balance", "held", "available_credits"]
    inlines = [LedgerEntryInline]
    actions = ["grant_credits"]

    def has_add_permission(self, request):
        return False  # every team gets its wallet when created

    @admin.display(description="available")
    def available_credits(self, account):
        return account.available()

    @admin.action(description="Grant credits to the selected teams' wallets")
    def grant_credits(self, request, queryset):
        wallets = queryset.select_related("team")
        return grant_to_wallets(self, request, [(wallet.pk, wallet) for wallet in wallets])


def grant_to_wallets(model_admin, request, selected: list[tuple[int, CreditAccount]]):
    """The grant action of the teams and the wallets lists: a form, then one
    grant per wallet. `selected` pairs each selected row's id with its wallet."""
    form = GrantForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        for _, wallet in selected:
            ledger.grant(
                wallet,
                form.cleaned_data["amount"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        messages.success(
            request, f"Granted {form.cleaned_data['amount']} credits to {len(selected)} team(s)."
        )
        return None
    return render(
        request,
        "admin/accounts/grant_credits.html",
        {
            **model_admin.admin_site.each_context(request),
            "form": form,
            "selected": selected,
            "opts": model_admin.model._meta,
            "title": "Grant credits",
        },
    )


@admin.register(CreditHold)
class CreditHoldAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "account",
        "amount",
        "captured",
        "state",
        "created_at",
        "closed_at",
    ]
    list_filter = ["state"]
    search_fields = ["reference", "account__team__name", "member__username"]
    readonly_fields = [f.name for f in CreditHold._meta.fields]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(RecordAdmin):
    list_display = [
        "created_at",
        "account",
        "kind",
        "amount",
        "held_change",
        "member",
        "reference",
        "note",
    ]
    list_filter = ["kind"]
    search_fields = ["reference", "note", "account__team__name", "member__username"]
    list_select_related = ["account__team", "member"]


@admin.register(Invitation)
class InvitationAdmin(RecordAdmin):
    """Invitations are made and revoked on the team page; here they are only read."""

    list_display = ["email", "team", "role", "created_by", "created_at", "expires_at", "state"]
    list_filter = ["role"]
    search_fields = ["email", "team__name"]
    list_select_related = ["team", "created_by"]
    exclude = ["token_digest"]

    @admin.display(description="state")
    def state(self, invitation):
        return invitation.state()


@admin.register(AuditEntry)
class AuditEntryAdmin(RecordAdmin):
    list_display = ["created_at", "team", "actor_name", "action", "target"]
    list_filter = ["action"]
    search_fields = ["team__name", "actor_name", "target"]
    list_select_related = ["team"]
    date_hierarchy = "created_at"


@admin.register(Budget)
class BudgetAdmin(RecordAdmin):
    """Budgets as the team's budgets page sets and removes them (audited there)."""

    list_display = ["team", "member", "api_key", "limit", "period", "updated_at"]
    list_filter = ["period"]
    search_fields = ["team__name", "member__username", "api_key__prefix"]
    list_select_related = ["team", "member", "api_key"]
