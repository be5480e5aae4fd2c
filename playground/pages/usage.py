"""The usage page: spend and generations over time, by member, model, provider
or API key, with each model's success rate, failure codes and times; and the
same numbers as CSV.

Everything is read from the usage rollups (playground/usage.py): rows per
member, model, key, provider and day, and the team's sums per member and
day and per model and day. A page costs the same few grouped queries
whatever the number of generations. Days are the team's: a generation
counts on the day it finished in the team's time zone.
"""

from __future__ import annotations

import calendar
import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import ZERO, ApiKey, Profile
from playground import usage
from playground.models import UsageDay
from playground.pages.common import model_title

DEFAULT_DAYS = 30
# A day chart of more than about three years is unreadable, and so is its table.
MAX_DAYS = 1100
# Lines drawn in the spend chart; the other groups are added up as one.
CHART_LINES = 6
PERIODS = [("day", "Day"), ("week", "Week"), ("month", "Month")]
GROUPS = [
    ("member", "Member"),
    ("model", "Model"),
    ("provider", "Provider"),
    ("api_key", "API key"),
]
TEAM, MINE = "team", "mine"


def can_see_team_usage(profile: Profile) -> bool:
    """Whether the member may see the whole team's usage, not only their own:
    its owners and admins."""
    return profile.can_manage()


class UsageFilters(forms.Form):
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    period = forms.ChoiceField(label="Per", choices=PERIODS, required=False)
    group = forms.ChoiceField(label="Group by", choices=GROUPS, required=False)
    whose = forms.ChoiceField(
        label="Whose", choices=[(TEAM, "The whole team"), (MINE, "Mine only")], required=False
    )

    def __init__(self, data, *, team_view: bool, initial: dict | None = None):
        super().__init__(data, initial=initial)
        if not team_view:
            del self.fields["whose"]

    def clean(self):
        data = super().clean()
        since, until = data.get("date_from"), data.get("date_to")
        if since and until:
            if since > until:
                raise forms.ValidationError("The first day comes after the last.")
            if (until - since).days >= MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        return data


@dataclass(frozen=True)
class Selection:
    """What the filters asked for, with the defaults filled in."""

    scope: usage.Scope
    period: str
    group: str
    team_view: bool


def selection(request: HttpRequest) -> tuple[UsageFilters, list[str], Selection]:
    """What the page shows: the filters' form (filled in with what is shown), the
    errors of what was asked, and the selection, each bad filter left at its default."""
    profile = Profile.objects.select_related("team").get(user=request.user)
    team_view = can_see_team_usage(profile)
    asked = UsageFilters(request.GET or None, team_view=team_view)
    data, errors = {}, []
    if asked.is_bound and not asked.is_valid():
        errors = [str(error) for field in asked.errors.values() for error in field]
    if asked.is_bound:
        data = asked.cleaned_data
    today = timezone.now().astimezone(profile.team.zone).date()
    until = data.get("date_to") or today
    since = data.get("date_from") or until - timedelta(days=DEFAULT_DAYS - 1)
    if asked.non_field_errors():  # the range itself: the default one instead
        until, since = today, today - timedelta(days=DEFAULT_DAYS - 1)
    whole_team = team_view and data.get("whose", TEAM) != MINE
    chosen = Selection(
        scope=usage.Scope(
            team_id=profile.team_id,
            since=since,
            until=until,
            member_id=None if whole_team else request.user.pk,
        ),
        period=data.get("period") or "day",
        group=data.get("group") or ("member" if whole_team else "model"),
        team_view=whole_team,
    )
    shown = {
        "date_from": since,
        "date_to": until,
        "period": chosen.period,
        "group": chosen.group,
        "whose": TEAM if whole_team else MINE,
    }
    return UsageFilters(None, team_view=team_view, initial=shown), errors, chosen


# -- the numbers ---------------------------------------------------------------


@dataclass
class Sums:
    successes: int = 0
    failures: int = 0
    charged: Decimal = ZERO
    success_time_ms: int = 0

    def add(self, row: dict) -> None:
        self.successes += row["successes"]
        self.failures += row["failures"]
        self.charged += row["charged"]
        self.success_time_ms += row["success_time_ms"]

    @property
    def generations(self) -> int:
        return self.successes + self.failures

    @property
    def success_rate(self) -> str:
        if not self.generations:
            return "—"
        return f"{100 * self.successes / self.generations:.1f} %"

    @property
    def mean_time(self) -> str:
        if not self.successes:
            return "—"
        return duration_text(self.success_time_ms / self.successes / 1000)


@dataclass
class Line(Sums):
    """One group's sums (a member, a model...), over the range and per period."""

    key: str = ""
    label: str = ""
    by_period: dict[date, Sums] = field(default_factory=dict)


@dataclass
class ModelLine(Sums):
    model_id: str = ""
    label: str = ""
    median: str = "—"
    p95: str = "—"
    failure_codes: list[tuple[str, int]] = field(default_factory=list)


def period_starts(since: date, until: date, period: str) -> list[date]:
    """The first day of every period that overlaps since..until."""
    if period == "month":
        start = since.replace(day=1)
    elif period == "week":
        start = since - timedelta(days=since.weekday())
    else:
        start = since
    starts = []
    while start <= until:
        starts.append(start)
        if period == "month":
            start = (start + timedelta(days=32)).replace(day=1)
        else:
            start += timedelta(days=7 if period == "week" else 1)
    return starts


def group_lines(
    chosen: Selection, *, every_period: bool = False
) -> tuple[list[Line], dict[date, Sums]]:
    """Each group's sums, the biggest spender first, and the sums per period.

    Each line's sums per period are read for the groups the chart draws
    apart (CHART_LINES), or for all with `every_period` (the CSV): a hundred
    API keys over 90 days are 9,000 rows to add up in Python, the page's
    own cost at a million generations, where the chart needs 540 of them.
    """
    column = usage.GROUPS[chosen.group]
    lines: dict[str, Line] = {}
    for row in usage.per_group(chosen.scope, chosen.group):
        key = row[column] or ""
        lines.setdefault(key, Line(key=key)).add(row)
    labels = group_labels(chosen.group, list(lines))
    for line in lines.values():
        line.label = labels.get(line.key, line.key)
    ordered = sorted(
        lines.values(), key=lambda line: (-line.charged, -line.generations, line.label)
    )
    keys = None if every_period else [line.key for line in ordered[:CHART_LINES]]
    for row in usage.over_time(chosen.scope, chosen.period, chosen.group, keys):
        line = lines[row[column] or ""]
        line.by_period.setdefault(row["period"], Sums()).add(row)
    periods: dict[date, Sums] = {}
    for row in usage.per_period(chosen.scope, chosen.period):
        periods.setdefault(row["period"], Sums()).add(row)
    return ordered, periods


def group_labels(group: str, keys: list[str]) -> dict[str, str]:
    """How each group reads on the page: a model's title, a key's prefix and name."""
    if group == "model":
        return {key: model_title(key) for key in keys}
    if group == "provider":
        return {key: key or "None (failed before a provider took it)" for key in keys}
    if group == "api_key":
        names = dict(
            ApiKey.objects.filter(prefix__in=[key for key in keys if key]).values_list(
                "prefix", "name"
            )
        )
        return {
            key: f"{key}… {names.get(key) or ''}".strip() if key else "No key (the playground)"
            for key in keys
        }
    return {key: key for key in keys}


def model_lines(scope: usage.Scope) -> list[ModelLine]:
    failures = usage.failures_by_model(scope)
    lines = []
    for row in usage.by_model(scope):
        line = ModelLine(model_id=row["model_id"], label=model_title(row["model_id"]))
        line.add(row)
        counts = [row[f"in_{name}"] for name in UsageDay.duration_fields()]
        line.median = range_text(usage.quantile_range(counts, 0.5))
        line.p95 = range_text(usage.quantile_range(counts, 0.95))
        line.failure_codes = failures.get(row["model_id"], [])
        lines.append(line)
    return sorted(lines, key=lambda line: (-line.generations, line.label))


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def bound_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def range_text(found: tuple[int, int | None] | None) -> str:
    """A time range of the rollup as it reads: "≤ 2 s", "30–45 s", "> 1 h"."""
    if found is None:
        return "—"
    low, high = found
    if high is None:
        return f"> {bound_text(low)}"
    if not low:
        return f"≤ {bound_text(high)}"
    return f"{bound_text(low)}–{bound_text(high)}"


def chart_data(chosen: Selection, lines: list[Line], periods: dict[date, Sums]) -> dict:
    """What static/js/usage.js draws: x as each period's first day at 00:00 UTC
    (drawn in UTC, so the axis shows the team's calendar days as they are)."""
    starts = period_starts(chosen.scope.since, chosen.scope.until, chosen.period)
    shown, others = lines[:CHART_LINES], lines[CHART_LINES:]

    def charged(group: list[Line]) -> list[Decimal]:
        return [
            sum((line.by_period.get(start, Sums()).charged for line in group), ZERO)
            for start in starts
        ]

    series = [{"label": line.label, "values": list(map(float, charged([line])))} for line in shown]
    if others:
        # The others' sums per period: all groups' less the ones drawn apart.
        apart = charged(shown)
        rest = [
            periods.get(start, Sums()).charged - drawn
            for start, drawn in zip(starts, apart, strict=True)
        ]
        series.append({"label": f"{len(others)} others", "values": list(map(float, rest))})
    return {
        "x": [calendar.timegm(start.timetuple()) for start in starts],
        "period": chosen.period,
        "charged": series,
        "succeeded": [periods.get(start, Sums()).successes for start in starts],
        "failed": [periods.get(start, Sums()).failures for start in starts],
    }


def report(chosen: Selection) -> dict:
    lines, periods = group_lines(chosen)
    totals = Sums()
    for sums in periods.values():
        totals.add(vars(sums))
    starts = period_starts(chosen.scope.since, chosen.scope.until, chosen.period)
    return {
        "chosen": chosen,
        "group_label": dict(GROUPS)[chosen.group],
        "period_label": dict(PERIODS)[chosen.period],
        "totals": totals,
        "lines": lines,
        "timeline": [(start, periods.get(start, Sums())) for start in starts],
        "models": model_lines(chosen.scope),
        "chart": chart_data(chosen, lines, periods),
        "bounds": ", ".join(bound_text(bound) for bound in UsageDay.DURATION_BOUNDS),
    }


# -- the views -----------------------------------------------------------------


@login_required
def usage_page(request: HttpRequest) -> HttpResponse:
    filters, errors, chosen = selection(request)
    context = {
        "filters": filters,
        "errors": errors,
        "query": request.GET.urlencode(),
        **report(chosen),
    }
    return render(request, "pages/usage.html", context)


CSV_COLUMNS = {
    "member": "member",
    "model": "model",
    "provider": "provider",
    "api_key": "api_key_prefix",
}


@login_required
def export_csv(request: HttpRequest) -> HttpResponse:
    """The page's numbers per period and group, with the page's filters."""
    _, _, chosen = selection(request)
    lines, _ = group_lines(chosen, every_period=True)
    scope = chosen.scope
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"reelgate-usage-{scope.since.isoformat()}-{scope.until.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "period_start",
            CSV_COLUMNS[chosen.group],
            "generations",
            "succeeded",
            "failed",
            "credits_charged",
            "success_seconds_total",
        ]
    )
    rows = [(start, line.key, sums) for line in lines for start, sums in line.by_period.items()]
    for start, key, sums in sorted(rows, key=lambda row: (row[0], row[1])):
        writer.writerow(
            [
                start.isoformat(),
                spreadsheet_safe(key),
                sums.generations,
                sums.successes,
                sums.failures,
                f"{sums.charged:.2f}",
                f"{sums.success_time_ms / 1000:.3f}",
            ]
        )
    return response


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a username may start with + or -)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
