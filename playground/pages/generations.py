"""One generation: its page, the status partial the page polls, run again, cancel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from accounts import budgets, ledger
from playground import catalog, services
from playground.models import Generation
from playground.pages.common import team_generation_or_404

# The generation's panel, and once it is finished the header's balance beside it.
STATUS = "pages/generation.html#generation-status"


@login_required
def detail(request: HttpRequest, task_id: str) -> HttpResponse:
    generation = team_generation_or_404(request, task_id)
    context = {
        "generation": generation,
        "events": generation.events.all(),
        "remixed_from": generation.remixed_from,
        "open_parameters": True,
    }
    return render(request, "pages/generation.html", context)


@login_required
def status(request: HttpRequest, task_id: str) -> HttpResponse:
    """The generation panel alone; polled every second until the generation finishes."""
    generation = team_generation_or_404(request, task_id)
    response = render(request, STATUS, {"generation": generation})
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
        return render(request, STATUS, {"generation": generation})
    return redirect("generation", generation.task_id)
