"""The budgets page: the team's wallet, and what each member and each API key
may spend in a period.

Owners and admins set every member's and every key's budget; owners also
grant credits to the wallet. A member sees their own budget and sets those
of their own keys (accounts/budgets.may_set). Anything of another team is a
404; an action the role does not allow, a 403.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import budgets, ledger
from accounts.models import ApiKey, Budget, Profile


class BudgetForm(forms.Form):
    limit = forms.DecimalField(
        label="Credits", min_value=Decimal("0"), max_digits=13, decimal_places=2
    )
    period = forms.ChoiceField(label="Per", choices=Budget.PERIODS, initial=Budget.MONTH)


class GrantForm(forms.Form):
    amount = forms.DecimalField(
        label="Credits", min_value=Decimal("0.01"), max_digits=13, decimal_places=2
    )
    note = forms.CharField(label="Note", max_length=200, required=False)


def _me(request: HttpRequest) -> Profile:
    return Profile.objects.select_related("team__wallet").get(user=request.user)


def _row(budget: Budget | None) -> dict:
    """A budget as its row shows it: its terms and its use now."""
    if budget is None:
        return {"budget": None, "use": None}
    return {"budget": budget, "use": budgets.use_of(budget)}


def page_context(request: HttpRequest) -> dict:
    me = _me(request)
    team = me.team
    team_budgets = Budget.objects.filter(team=team).select_related("team", "member", "api_key")
    by_member = {b.member_id: b for b in team_budgets if b.member_id is not None}
    by_key = {b.api_key_id: b for b in team_budgets if b.api_key_id is not None}
    members = Profile.objects.filter(team=team).select_related("user").order_by("user__username")
    keys = ApiKey.objects.filter(user__profile__team=team, revoked_at__isnull=True)
    if not me.can_manage():
        members = members.filter(pk=me.pk)
        keys = keys.filter(user=request.user)
    return {
        "me": me,
        "team": team,
        "wallet": ledger.current(team.wallet),
        "members": [
            {"profile": member, **_row(by_member.get(member.user_id))} for member in members
        ],
        "keys": [
            {"key": key, **_row(by_key.get(key.pk))}
            for key in keys.select_related("user").order_by("user__username", "-created_at")
        ],
        "budget_form": BudgetForm(),
        "grant_form": GrantForm(),
    }


@login_required
@require_GET
def budgets_page(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/budgets.html", page_context(request))


def _answer(request: HttpRequest, notice: str, *, error: bool = False) -> HttpResponse:
    if request.htmx:
        context = page_context(request) | {"notice": notice, "notice_error": error}
        return render(request, "pages/budgets.html#budgets-body", context)
    (messages.error if error else messages.success)(request, notice)
    return redirect("team-budgets")


def _set(request: HttpRequest, **whose) -> HttpResponse:
    form = BudgetForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(m for messages_ in form.errors.values() for m in messages_)
        return _answer(request, f"The budget was not saved: {errors}", error=True)
    me = _me(request)
    budget = budgets.set_budget(
        me.team,
        limit=form.cleaned_data["limit"],
        period=form.cleaned_data["period"],
        actor=request.user,
        **whose,
    )
    return _answer(request, f"Saved: {budget}.")


@login_required
@require_POST
def set_member_budget(request: HttpRequest, pk: int) -> HttpResponse:
    me = _me(request)
    member = get_object_or_404(Profile.objects.select_related("user"), pk=pk, team=me.team)
    if not budgets.may_set(me, member=member):
        raise PermissionDenied("Only the team's owners and admins set members' budgets.")
    return _set(request, member=member.user)


@login_required
@require_POST
def set_key_budget(request: HttpRequest, prefix: str) -> HttpResponse:
    me = _me(request)
    key = get_object_or_404(ApiKey, prefix=prefix, user__profile__team=me.team)
    if not budgets.may_set(me, api_key=key):
        raise PermissionDenied("Only the key's owner and the team's owners and admins set it.")
    return _set(request, api_key=key)


@login_required
@require_POST
def remove_budget(request: HttpRequest, pk: int) -> HttpResponse:
    me = _me(request)
    budget = get_object_or_404(
        Budget.objects.select_related("member", "api_key"), pk=pk, team=me.team
    )
    whose = (
        {"api_key": budget.api_key}
        if budget.api_key_id
        else {"member": Profile.objects.get(user=budget.member)}
    )
    if not budgets.may_set(me, **whose):
        raise PermissionDenied("Only the team's owners and admins remove this budget.")
    budgets.remove_budget(budget, actor=request.user)
    return _answer(request, f"Removed the budget of {budget.describe()}: no limit now.")


@login_required
@require_POST
def grant(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    if not me.is_owner():
        raise PermissionDenied("Only the team's owners grant credits.")
    form = GrantForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(m for messages_ in form.errors.values() for m in messages_)
        return _answer(request, f"Nothing was granted: {errors}", error=True)
    entry = ledger.grant(
        me.team.wallet,
        form.cleaned_data["amount"],
        note=form.cleaned_data["note"] or f"granted by {request.user.get_username()}",
        actor=request.user,
    )
    return _answer(request, f"Granted {entry.amount} credits to the team's wallet.")
