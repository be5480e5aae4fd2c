"""The account page: credits with the ledger history, and API keys."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import membership
from accounts.models import ApiKey, CreditAccount, LedgerEntry
from playground import statement
from playground.keyset import paginate
from playground.webhooks.views import panel_context

LINES_PER_PAGE = 25


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


def wallet_entries(request: HttpRequest) -> tuple[CreditAccount, QuerySet[LedgerEntry]]:
    """The team's wallet and the ledger entries of it the user may read: all of
    them for its owners and admins; for a member, their own generations' and
    the credits the team was given."""
    profile = request.user.profile
    wallet = CreditAccount.objects.get(team_id=profile.team_id)
    entries = LedgerEntry.objects.filter(account=wallet)
    if not profile.can_manage():
        entries = entries.filter(
            Q(member=request.user) | Q(kind__in=[LedgerEntry.GRANT, LedgerEntry.ADJUST])
        )
    return wallet, entries


def ledger_context(request: HttpRequest) -> dict:
    wallet, entries = wallet_entries(request)
    page = paginate(
        statement.anchors(entries),
        size=LINES_PER_PAGE,
        older=request.GET.get("after"),
        newer=request.GET.get("before"),
    )
    page.rows = statement.lines(page.rows, entries)
    return {"credit_account": wallet, "entries": page, "export_form": ExportForm()}


class ExportForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start of the range comes after its end.")
        return data


CSV_COLUMNS = [
    "date",
    "kind",
    "task_id",
    "model",
    "prompt",
    "member",
    "api_key",
    "held",
    "outcome",
    "balance_change",
    "note",
]


class _Echo:
    """A file that hands back what is written to it: csv.writer's lines become
    the response's chunks, so a long export is never held in memory."""

    def write(self, value: str) -> str:
        return value


@login_required
def export_ledger(request: HttpRequest) -> HttpResponse:
    """The ledger as CSV, one line per generation (or grant), for a date range
    in the team's time zone, both days included."""
    form = ExportForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(message for messages in form.errors.values() for message in messages)
        return HttpResponse(f"Choose a date range: {errors}", status=400, content_type="text/plain")
    zone = request.user.profile.team.zone
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    _, entries = wallet_entries(request)
    in_range = entries.filter(
        created_at__gte=_midnight(start, zone), created_at__lt=_midnight(end + timedelta(1), zone)
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for line in statement.all_lines(in_range):
            yield writer.writerow(
                [
                    line.entry.created_at.astimezone(zone).isoformat(timespec="seconds"),
                    "generation" if line.is_generation else line.entry.kind,
                    line.task_id,
                    line.model,
                    line.prompt,
                    line.entry.member.get_username() if line.entry.member else "",
                    line.entry.api_key.prefix if line.entry.api_key else "",
                    line.held if line.is_generation else "",
                    line.outcome,
                    line.change,
                    line.entry.note,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    name = f"reelgate-ledger-{start.isoformat()}-{end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _midnight(day: date, zone) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


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
