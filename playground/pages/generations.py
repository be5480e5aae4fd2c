"""One generation: its page, the status partial the page polls, run again,
cancel and delete."""

from __future__ import annotations

import statistics
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from accounts import budgets, ledger
from playground import catalog, services
from playground.contracts import replicate, snippets
from playground.contracts.wire import base_url, request_base_url
from playground.models import Generation
from playground.pages.common import team_generation_or_404

# The generation's panel, and once it is finished the header's balance beside it.
STATUS = "pages/generation.html#generation-status"
# The estimate of a running generation: the median time from submit to
# finish of the team's last few successful generations of its model.
ESTIMATE_SAMPLE = 20
# How many of the team's latest generations of the model are read to find
# them: the gen_team_model index serves exactly this, however many the
# team has made; rows that failed or still run are skipped.
ESTIMATE_LOOKBACK = 100


def typical_seconds(generation: Generation) -> float | None:
    """The median submit-to-finish time of recent successes of the same model
    in the generation's team; None without any."""
    recent = (
        Generation.objects.filter(team_id=generation.team_id, model_id=generation.model_id)
        .order_by("-created_at")
        .values_list("state", "created_at", "completed_at")[:ESTIMATE_LOOKBACK]
    )
    took = [
        (completed - created).total_seconds()
        for state, created, completed in recent
        if state == Generation.SUCCESS and completed is not None
    ][:ESTIMATE_SAMPLE]
    return statistics.median(took) if took else None


def about(seconds: float) -> str:
    """An estimate as a person says it: "about 40 s", "about 3 min"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


def elapsed(seconds: float) -> str:
    """Time since submit: "12 s", "2 min 05 s"."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    return f"{whole // 60} min {whole % 60:02d} s"


def panel_context(request: HttpRequest, generation: Generation, **extra: Any) -> dict[str, Any]:
    """Everything the generation panel shows; the page and its polls alike."""
    base = base_url(generation, request_base_url(request))
    context = {
        "generation": generation,
        "share_url": base + reverse("generation", args=[generation.task_id]),
        "api_call": snippets.labelled(snippets.generation_call(base, generation), "api-call"),
        "key_variable": snippets.KEY_VARIABLE,
        **extra,
    }
    if generation.is_finished:
        context["events"] = generation.events.all()
    else:
        context["elapsed"] = elapsed((timezone.now() - generation.created_at).total_seconds())
        typical = typical_seconds(generation)
        context["estimate"] = about(typical) if typical is not None else ""
        # The lines Replicate's prediction shows as its logs: each event, then the progress.
        context["logs"] = replicate.logs_of(generation)
    return context


@login_required
def detail(request: HttpRequest, task_id: str) -> HttpResponse:
    generation = team_generation_or_404(request, task_id)
    context = panel_context(
        request, generation, remixed_from=generation.remixed_from, expanded=True
    )
    return render(request, "pages/generation.html", context)


@login_required
def status(request: HttpRequest, task_id: str) -> HttpResponse:
    """The generation panel alone; polled every second until the generation finishes."""
    generation = team_generation_or_404(request, task_id)
    response = render(request, STATUS, panel_context(request, generation))
    if generation.is_finished:
        # 286 tells htmx to stop polling; the finished panel is still swapped in.
        stop = HttpResponseStopPolling(response.content)
        stop["Content-Type"] = response["Content-Type"]
        return stop
    return response


@login_required
@require_POST
def run_again(request: HttpRequest, task_id: str) -> HttpResponse:
    """A new generation with the same model and input."""
    original = team_generation_or_404(request, task_id)
    try:
        generation = services.submit(
            user=request.user,
            model=original.model_id,
            input=original.input,
            source=Generation.SOURCE_PLAYGROUND,
            contract="playground",
            remixed_from=original,
        )
    except ledger.InsufficientCredits as refusal:
        messages.error(
            request,
            f"Not enough credits to run it again: it costs {refusal.required} credits and "
            f"you have {refusal.available} available.",
        )
        return redirect("generation", original.task_id)
    except (
        services.ModelUnavailable,
        services.TooManyUnfinished,
        budgets.BudgetExceeded,
    ) as refusal:
        messages.error(request, str(refusal))
        return redirect("generation", original.task_id)
    except catalog.ValidationFailed as failure:
        # The model's rules changed since: the input must be edited first.
        messages.error(request, f"This input is no longer accepted: {failure}")
        return redirect(f"{reverse('model', args=[original.model_id])}?from={original.task_id}")
    return redirect("generation", generation.task_id)


@login_required
@require_POST
def cancel(request: HttpRequest, task_id: str) -> HttpResponse:
    generation = team_generation_or_404(request, task_id)
    if services.cancel(generation):
        messages.info(request, "Cancelled. Nothing was charged.")
    generation.refresh_from_db()
    if request.htmx:
        return render(request, STATUS, panel_context(request, generation))
    return redirect("generation", generation.task_id)


@login_required
@require_POST
def delete(request: HttpRequest, task_id: str) -> HttpResponse:
    """Delete a finished generation: its files go, its row and charge stay on record
    (the gallery's delete, for one)."""
    generation = team_generation_or_404(request, task_id)
    if services.delete(generation):
        messages.success(
            request, f"Deleted {generation.task_id}. What it was charged stays on record."
        )
        return go_to(request, reverse("gallery"))
    messages.error(
        request,
        "Not deleted: only a finished generation can be deleted (cancel it first), and only once.",
    )
    return go_to(request, reverse("generation", args=[generation.task_id]))


def go_to(request: HttpRequest, url: str) -> HttpResponse:
    if request.htmx:
        # htmx sent the form (to ask for confirmation first): the whole page moves on.
        return HttpResponseClientRedirect(url)
    return redirect(url)
