"""The home page: every model in the catalog as a card, with a search box."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from playground import catalog
from playground.catalog import ModelSpec
from playground.pages.common import KIND_LABELS


def searchable_text(spec: ModelSpec) -> str:
    kinds = " ".join(f"{kind} {KIND_LABELS.get(kind, kind)}" for kind in spec.kinds)
    parts = [spec.id, *spec.aliases, spec.title, spec.vendor, spec.summary, kinds, *spec.badges]
    return " ".join(parts).lower()


def matching_specs(query: str) -> list[ModelSpec]:
    """Specs whose text holds every word of `query` (all of them for an empty query)."""
    words = query.lower().split()
    specs = sorted(catalog.all_specs(), key=lambda spec: (spec.vendor, spec.title))
    return [spec for spec in specs if all(word in searchable_text(spec) for word in words)]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    context = {"specs": matching_specs(query), "q": query}
    template = "pages/home.html"
    if request.htmx and request.htmx.target == "model-cards":
        template += "#model-cards"
    return render(request, template, context)
