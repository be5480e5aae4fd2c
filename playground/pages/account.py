"""The account page: credits with the ledger history, and API keys."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import membership
from accounts.models import ApiKey, CreditAccount, LedgerEntry
from playground.keyset import paginate
from playground.webhooks.views import panel_context

ENTRIES_PER_PAGE = 25
GENERATION_REFERENCE = "generation:"


class NewKeyForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. laptop, CI"}),
    )


def keys_context(request: HttpRequest, **extra) -> dict:
    keys = ApiKey.objects.filter(user=request.user).order_by("revoked_at", "-created_at")
    return {"keys": list(keys), "key_form": NewKeyForm(), **extra}


def ledger_context(request: HttpRequest) -> dict:
    credit_account = CreditAccount.objects.get(user=request.user)
    entries = paginate(
        LedgerEntry.objects.filter(account=credit_account),
        size=ENTRIES_PER_PAGE,
        older=request.GET.get("after"),
        newer=request.GET.get("before"),
    )
    for entry in entries.rows:
        # Holds and charges point back at the generation they were for.
        if entry.reference.startswith(GENERATION_REFERENCE):
            entry.task_id = entry.reference[len(GENERATION_REFERENCE) :]
    return {"credit_account": credit_account, "entries": entries}


@login_required
def account(request: HttpRequest) -> HttpResponse:
    context = ledger_context(request) | keys_context(request) | panel_context(request)
    if request.htmx and request.htmx.target == "ledger":
        return render(request, "pages/account.html#ledger", context)
    return render(request, "pages/account.html", context)


@login_required
@require_POST
def create_key(request: HttpRequest) -> HttpResponse:
    form = NewKeyForm(request.POST)
    if form.is_valid():
        key, secret = membership.create_key(request.user, form.cleaned_data["name"])
        # The secret exists only in this response: it is never stored or shown again.
        context = keys_context(request, new_key=key, secret=secret)
    else:
        context = keys_context(request) | {"key_form": form}
    if request.htmx:
        return render(request, "pages/account.html#api-keys", context)
    return render(
        request, "pages/account.html", ledger_context(request) | panel_context(request) | context
    )


@login_required
@require_POST
def revoke_key(request: HttpRequest, prefix: str) -> HttpResponse:
    key = get_object_or_404(ApiKey, user=request.user, prefix=prefix)
    membership.revoke_key(request.user, key)
    if request.htmx:
        return render(request, "pages/account.html#api-keys", keys_context(request))
    return redirect(reverse("account") + "#api-keys")
