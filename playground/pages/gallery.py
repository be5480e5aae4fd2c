"""The team gallery: every generation of the user's team, newest first.

It stays fast at 100,000 generations: pages are keyset ranges over
(created_at, id) served by the (team, -created_at) index (or the state /
model / owner ones when filtered), a constant number of queries per page,
no OFFSET and no COUNT over the team. The per-member totals are the one
aggregate, grouped by owner.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts import ledger
from playground import catalog
from playground.keyset import paginate
from playground.models import Generation
from playground.pages.common import team_generations, team_id

PAGE_SIZE = 24


class GalleryFilters(forms.Form):
    q = forms.CharField(label="Search prompts", required=False, max_length=200)
    model = forms.ChoiceField(label="Model", required=False)
    author = forms.ChoiceField(label="Author", required=False)
    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "Any state"), *Generation.STATES]
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data, *, members: list):
        super().__init__(data)
        models = sorted(catalog.all_specs(), key=lambda spec: spec.title)
        self.fields["model"].choices = [("", "Any model")] + [(s.id, s.title) for s in models]
        self.fields["author"].choices = [("", "Anyone")] + [
            (str(user.pk), user.get_username()) for user in members
        ]

    def apply(self, generations: QuerySet[Generation]) -> QuerySet[Generation]:
        """The queryset narrowed by every valid filter; invalid ones are ignored."""
        if not self.is_bound:
            return generations
        self.is_valid()
        data = self.cleaned_data
        if data.get("q"):
            generations = generations.filter(input__prompt__icontains=data["q"])
        if data.get("model"):
            generations = generations.filter(model_id=data["model"])
        if data.get("author"):
            generations = generations.filter(owner_id=int(data["author"]))
        if data.get("state"):
            generations = generations.filter(state=data["state"])
        # Whole days in the site's time zone, as ranges on created_at so the
        # index still serves them (a __date lookup would not).
        if data.get("date_from"):
            generations = generations.filter(created_at__gte=start_of(data["date_from"]))
        if data.get("date_to"):
            end = start_of(data["date_to"] + timedelta(days=1))
            generations = generations.filter(created_at__lt=end)
        return generations

    @property
    def active(self) -> bool:
        return self.is_bound and any(self.cleaned_data.get(name) for name in self.fields)


def start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def member_totals(generations: QuerySet[Generation]) -> list[dict]:
    """Generations and credits charged per author: one query, grouped by owner."""
    return list(
        generations.order_by()
        .values("owner_id", "owner__username")
        .annotate(
            generations=Count("id"),
            charged=ledger.cents(Sum("charged_credits")),
            failed=Count("id", filter=Q(state=Generation.FAIL)),
        )
        .order_by("-charged", "owner__username")
    )


@login_required
def gallery(request: HttpRequest) -> HttpResponse:
    members = list(
        get_user_model().objects.filter(profile__team_id=team_id(request)).order_by("username")
    )
    filters = GalleryFilters(request.GET or None, members=members)
    generations = filters.apply(team_generations(request))
    page = paginate(
        generations.select_related("owner").defer("request"),
        size=PAGE_SIZE,
        older=request.GET.get("after"),
        newer=request.GET.get("before"),
    )
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    context = {
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
    }
    target = request.htmx.target if request.htmx else None
    if target == "load-more":
        # "Load more" appends the next cards to the grid: no totals needed.
        return render(request, "pages/gallery.html#gallery-cards", context)
    context["totals"] = member_totals(generations)
    if target == "gallery-results":
        return render(request, "pages/gallery.html#gallery-results", context)
    return render(request, "pages/gallery.html", context)
