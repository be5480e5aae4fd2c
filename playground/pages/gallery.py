"""The team gallery: every generation of the user's team, newest first, and
what a member does with several at once (a ZIP of their videos, delete) or
with one (star it as a favourite).

It stays fast at 100,000 generations: pages are keyset ranges over
(created_at, id) served by the (team, -created_at) index (or the state /
model / owner ones when filtered), a constant number of queries per page,
no OFFSET and no COUNT over the team. The prompt search is answered from
an index of its own (playground/search.py). The per-member totals read the
usage rollup (playground/usage.py), not the generations: one grouped query
over a row per member and day, whatever the number of generations.

Deleted generations (here or through OpenAI's DELETE /v1/videos/{id}) leave
the cards, not the totals: the rollup counted them when they finished.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import PurePosixPath

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import ledger
from playground import catalog, search, services, usage, zipstream
from playground.keyset import paginate
from playground.models import Favourite, Generation, UsageDay, UsageMemberDay
from playground.pages.common import team_generation_or_404, team_generations, team_id

PAGE_SIZE = 24
# How many generations one ZIP or one delete may take: a ZIP of 50 clips is
# already large, and each delete is a few statements in the request.
SELECTION_MAX = 50
CHUNK_BYTES = 256 * 1024


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
    favourites = forms.BooleanField(label="Favourites only", required=False)

    def __init__(self, data, *, members: list, user):
        super().__init__(data)
        self.user = user
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
            generations = search.matching(generations, data["q"])
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
        if data.get("favourites"):
            # The signed-in member's stars, not the team's.
            generations = generations.filter(favourites__user=self.user)
        return generations

    @property
    def active(self) -> bool:
        return self.is_bound and any(self.cleaned_data.get(name) for name in self.fields)


def start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def member_totals(team: int, filters: GalleryFilters) -> list[dict]:
    """Finished generations, failures and credits charged per member, from the
    usage rollup: narrowed by the filters it can answer (model, author, the
    days they finished in the team's time zone, finished states); the prompt
    search and favourites do not narrow it."""
    data = filters.cleaned_data if filters.is_bound else {}
    state = data.get("state")
    if state in Generation.UNFINISHED:
        return []
    # A row per member and day; per model too only when one model is asked for.
    if data.get("model"):
        rows = UsageDay.objects.filter(team_id=team, model_id=data["model"])
    else:
        rows = UsageMemberDay.objects.filter(team_id=team)
    if data.get("author"):
        rows = rows.filter(member_id=int(data["author"]))
    if data.get("date_from"):
        rows = rows.filter(day__gte=data["date_from"])
    if data.get("date_to"):
        rows = rows.filter(day__lte=data["date_to"])
    totals = []
    for row in usage.totals_by_member(rows):
        successes = 0 if state == Generation.FAIL else row["successes"]
        failures = 0 if state == Generation.SUCCESS else row["failures"]
        if successes + failures:
            totals.append(
                {
                    "username": row["member__username"],
                    "generations": successes + failures,
                    "failed": failures,
                    "charged": row["charged"] if successes else ledger.ZERO,
                }
            )
    return totals


@login_required
def gallery(request: HttpRequest) -> HttpResponse:
    members = list(
        get_user_model().objects.filter(profile__team_id=team_id(request)).order_by("username")
    )
    filters = GalleryFilters(request.GET or None, members=members, user=request.user)
    generations = filters.apply(team_generations(request))
    mine = Favourite.objects.filter(user=request.user, generation=OuterRef("pk"))
    page = paginate(
        generations.filter(deleted_at__isnull=True)
        .annotate(starred=Exists(mine))  # in the page's own query, not one more
        .select_related("owner")
        .defer("request"),
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
        # Where a form posted from this page comes back to: the same page.
        "here": request.GET.urlencode(),
        "selection_max": SELECTION_MAX,
    }
    target = request.htmx.target if request.htmx else None
    if target == "load-more":
        # "Load more" appends the next cards to the grid: no totals needed.
        return render(request, "pages/gallery.html#gallery-cards", context)
    # Deleted generations too: their charges stay on record.
    context["totals"] = member_totals(team_id(request), filters)
    if target == "gallery-results":
        return render(request, "pages/gallery.html#gallery-results", context)
    return render(request, "pages/gallery.html", context)


# -- acting on generations ----------------------------------------------------


def back_to_gallery(request: HttpRequest) -> HttpResponseRedirect:
    """The gallery page the form was posted from (its filters and cursor)."""
    # Parsed and encoded again: only a query string of ours goes in the URL.
    query = QueryDict(request.POST.get("query", "")).urlencode()
    return redirect(f"{reverse('gallery')}?{query}" if query else reverse("gallery"))


def selection(request: HttpRequest, verb: str) -> list[Generation] | None:
    """The team's generations ticked in the form, newest first; None (with the
    reason as a message) when there are none or too many. Another team's id,
    or a deleted generation's, is not found: it is simply not there."""
    task_ids = list(dict.fromkeys(request.POST.getlist("task")))
    if not task_ids:
        messages.error(request, f"Select the generations to {verb} first.")
        return None
    if len(task_ids) > SELECTION_MAX:
        messages.error(
            request,
            f"You selected {len(task_ids)} generations; {verb} at most {SELECTION_MAX} at a time.",
        )
        return None
    found = list(
        team_generations(request)
        .filter(task_id__in=task_ids, deleted_at__isnull=True)
        .order_by("-created_at", "-id")
    )
    if not found:
        messages.error(request, "None of the selected generations is in your team's gallery.")
        return None
    return found


@login_required
@require_POST
def download(request: HttpRequest) -> HttpResponse:
    """The selected generations' videos as one ZIP, streamed from storage.

    Those without a video (unfinished, failed, a file gone) are listed in
    the archive's SKIPPED.txt rather than failing the download.
    """
    generations = selection(request, "download")
    if generations is None:
        return back_to_gallery(request)
    ready = [g for g in generations if g.state == Generation.SUCCESS and g.video]
    if not ready:
        messages.error(request, "None of the selected generations has a finished video yet.")
        return back_to_gallery(request)
    skipped = [(g.task_id, why_no_video(g)) for g in generations if g not in ready]
    found = {g.task_id for g in generations}
    skipped += [
        (task_id[:40], "not found: deleted, or not your team's")
        for task_id in dict.fromkeys(request.POST.getlist("task"))
        if task_id not in found
    ]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        zipstream.stream(zip_members(ready, skipped)), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="reelgate-videos-{stamp}.zip"'
    return response


def why_no_video(generation: Generation) -> str:
    if generation.state == Generation.FAIL:
        return "failed, so it has no video"
    return f"not finished yet ({generation.get_state_display().lower()})"


def zip_members(
    ready: list[Generation], skipped: list[tuple[str, str]]
) -> Iterator[zipstream.Member]:
    """Each video as a ZIP member, opened only when its turn comes; then the
    note of what was left out, if anything was."""
    for generation in ready:
        try:
            # Through the storage API, local or object storage alike; the first
            # read too, as some storages only fetch the object then.
            handle = default_storage.open(generation.video.name, "rb")
            first = handle.read(CHUNK_BYTES)
        except OSError:
            skipped.append((generation.task_id, "its video file is missing from storage"))
            continue
        suffix = PurePosixPath(generation.video.name).suffix or ".mp4"
        yield zipstream.Member(
            name=f"{generation.task_id}{suffix}",
            chunks=read_chunks(handle, first),
            modified=timezone.localtime(generation.completed_at or generation.created_at),
            size=generation.size_bytes,
        )
    if skipped:
        lines = ["These selected generations are not in this archive:", ""]
        lines += [f"{task_id}: {why}" for task_id, why in skipped]
        yield zipstream.Member(
            name="SKIPPED.txt",
            chunks=["\n".join(lines).encode() + b"\n"],
            modified=timezone.localtime(),
        )


def read_chunks(handle, first: bytes) -> Iterator[bytes]:
    with handle:
        chunk = first
        while chunk:
            yield chunk
            chunk = handle.read(CHUNK_BYTES)


@login_required
@require_POST
def delete(request: HttpRequest) -> HttpResponse:
    """Delete the selected generations: their files go; each row stays, marked
    deleted, with its charge (as OpenAI's DELETE /v1/videos/{id} does)."""
    generations = selection(request, "delete")
    if generations is None:
        return back_to_gallery(request)
    deleted = sum(services.delete(generation) for generation in generations)
    left = len(generations) - deleted
    if deleted:
        they = "it was" if deleted == 1 else "they were"
        messages.success(
            request,
            f"Deleted {plural(deleted, 'generation')}. What {they} charged stays on record "
            "in the ledger and the totals.",
        )
    if left:
        messages.error(
            request,
            f"{plural(left, 'generation')} not deleted: only finished generations can be "
            "deleted (cancel an unfinished one first).",
        )
    return back_to_gallery(request)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@login_required
@require_POST
def favourite(request: HttpRequest, task_id: str) -> HttpResponse:
    """Star (starred=1) or unstar (starred=0) one generation for the signed-in member."""
    generation = team_generation_or_404(request, task_id)
    if generation.deleted_at is not None:
        raise Http404("No such generation.")
    # The state asked for, not a toggle: a double click or a retry lands the same.
    starred = request.POST.get("starred") == "1"
    Favourite.star(request.user, generation, starred)
    if request.htmx:
        generation.starred = starred
        context = {"generation": generation, "here": request.POST.get("query", "")}
        return render(request, "pages/gallery.html#star", context)
    return back_to_gallery(request)
