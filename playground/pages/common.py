"""What several pages share: the team boundary and how a generation reads."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from accounts import budgets
from accounts.models import CreditAccount
from playground import catalog
from playground.models import Generation

KIND_LABELS = {
    "text-to-video": "Text to video",
    "image-to-video": "Image to video",
    "motion-control": "Motion control",
}


def team_id(request: HttpRequest) -> int:
    return request.user.profile.team_id


def team_generations(request: HttpRequest) -> QuerySet[Generation]:
    """The generations the signed-in user may see: their team's, nobody else's."""
    return Generation.objects.filter(team_id=team_id(request))


def team_generation_or_404(request: HttpRequest, task_id: str) -> Generation:
    # Another team's task id is a 404, exactly like an unknown one.
    return get_object_or_404(team_generations(request).select_related("owner"), task_id=task_id)


def available_credits(request: HttpRequest) -> Decimal:
    """The team wallet's available credits, read fresh (a submit may just have held some)."""
    account = CreditAccount.objects.only("balance", "held").get(team_id=team_id(request))
    return account.available()


def my_budget(request: HttpRequest) -> budgets.Use | None:
    """The signed-in member's own budget as it stands, or None without one."""
    return budgets.remaining_for(team_id(request), request.user.pk)


def spendable(request: HttpRequest) -> tuple[Decimal, budgets.Use | None]:
    """What the member may hold for a generation now: the wallet's available
    credits, or less when their budget leaves less; and that budget."""
    available = available_credits(request)
    budget = my_budget(request)
    if budget is not None:
        available = min(available, budget.remaining)
    return available, budget


def header(request: HttpRequest) -> dict[str, Any]:
    """Context for the header of every page: the team's available credits and
    the member's budget, read only when a page shows them (partials do not)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "header_balance": partial(available_credits, request),
        "header_budget": partial(my_budget, request),
    }


def model_title(model_id: str) -> str:
    try:
        return catalog.get_spec(model_id).title
    except catalog.UnknownModel:
        return model_id


def parameters(generation: Generation) -> list[dict[str, Any]]:
    """The generation's input as [{name, label, text, is_url}], in the spec's field order."""
    try:
        spec = catalog.get_spec(generation.model_id)
    except catalog.UnknownModel:
        spec = None
    rows = []
    for name, value in generation.input.items():
        field = _field(spec, name)
        label = field.label if field else name
        is_url = bool(field) and field.type in ("image_url", "video_url", "image_urls")
        values = value if isinstance(value, list) else [value]
        if is_url:
            rows.extend(
                {"name": name, "label": label, "text": str(item), "is_url": True} for item in values
            )
            continue
        text = field.display(value) if field else str(value)
        if field and field.type == "select":
            # Choices with their own label ("std — standard, 720p") read better.
            label_text = next((c.label for c in field.choices if c.value == value), "")
            if label_text and label_text != str(value):
                text = label_text
        rows.append({"name": name, "label": label, "text": text, "is_url": False})
    return rows


def _field(spec, name: str):
    if spec is None:
        return None
    try:
        return spec.field(name)
    except KeyError:
        return None
