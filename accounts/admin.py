from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import render

from accounts import apikeys, ledger
from accounts.login import AdminLoginForm
from accounts.models import ApiKey, CreditAccount, CreditHold, LedgerEntry, Profile, Team

User = get_user_model()

# The admin's sign-in is throttled like the login page's.
admin.site.login_form = AdminLoginForm


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["team"]


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


@admin.register(User)
class ReelgateUserAdmin(UserAdmin):
    list_display = ["username", "email", "team", "is_staff", "is_active"]
    list_select_related = ["profile__team"]
    inlines = [ProfileInline]

    def get_inline_instances(self, request, obj=None):
        # A new user gets a profile from the post_save receiver; an inline on
        # the add page would try to create a second one.
        return super().get_inline_instances(request, obj) if obj else []

    @admin.display(ordering="profile__team__name")
    def team(self, user):
        return user.profile.team


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
        messages.warning(
            request, f"The new key is {secret} — copy it now, it will not be shown again."
        )

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request, queryset):
        revoked = sum(apikeys.revoke(key) for key in queryset)
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
class CreditHoldAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
