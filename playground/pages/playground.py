"""A model's playground: the form built from its spec, live checks, submit.

The form is `catalog.form_class`, whose clean() is `catalog.validate`: the
live check, the submit and every API contract judge input the same way, and
the price shown is `catalog.quote` of exactly what would be submitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import budgets, ledger
from playground import catalog, services
from playground.catalog import ModelSpec
from playground.catalog.forms import CatalogForm, image_list
from playground.catalog.rules import applies_text
from playground.catalog.values import Invalid, coerce, is_blank
from playground.contracts.snippets import KEY_VARIABLE, all_snippets
from playground.contracts.wire import request_base_url
from playground.models import Generation
from playground.pages.common import available_credits, team_generation_or_404

# The request panel's tabs, in the order the shared snippets come.
SNIPPET_LABELS = {"curl": "curl", "python": "Python (httpx)", "javascript": "JavaScript (fetch)"}
UPLOAD_KINDS = {"image_url": "image", "image_urls": "image", "video_url": "video"}


@dataclass(frozen=True)
class PriceView:
    credits: Decimal
    breakdown: str
    # False while the form has errors: the price of the priced fields alone.
    exact: bool

    @property
    def usd(self) -> Decimal:
        return (self.credits * settings.CREDIT_USD).quantize(Decimal("0.01"))


def spec_or_404(model_id: str) -> ModelSpec:
    try:
        return catalog.get_spec(model_id)
    except catalog.UnknownModel:
        raise Http404(f"No model {model_id}.") from None


def submitted_input(spec: ModelSpec, form: CatalogForm) -> dict[str, Any]:
    """The form's current values (bound or initial) as an input dict, blanks left out."""
    values: dict[str, Any] = {}
    for field in spec.fields:
        value = form[field.name].value()
        if field.type == "image_urls":
            value = image_list(value)
        if field.type == "switch":
            value = bool(value)
        elif is_blank(value):
            continue
        values[field.name] = value
    return values


def estimate(spec: ModelSpec, values: dict[str, Any]) -> PriceView | None:
    """The price of the priced fields alone, while other fields still have errors.

    Each priced field goes through the validator's own per-field check; a
    field it refuses means no price rather than a wrong one.
    """
    priced: dict[str, Any] = {}
    names = list(spec.pricing.by)
    if spec.pricing.seconds_field:
        names.append(spec.pricing.seconds_field)
    for name in names:
        if name not in values:
            continue
        try:
            priced[name] = coerce(spec.field(name), values[name])
        except Invalid:
            return None
    try:
        price = catalog.quote(spec.id, priced)
    except catalog.ValidationFailed:
        return None
    return PriceView(price.credits, price.breakdown, exact=False)


@dataclass
class Check:
    """One run of the form through the validator, with what the page shows for it."""

    normalized: dict[str, Any] | None
    price: PriceView | None
    snippets: list[dict[str, str]]


def check(request: HttpRequest, spec: ModelSpec, form: CatalogForm) -> Check:
    values = submitted_input(spec, form)
    if form.is_bound:
        normalized = form.normalized if form.is_valid() else None
    else:
        # The initial values (defaults, or a remixed generation's input) are
        # checked quietly: errors only show once the user has touched the form.
        try:
            normalized = catalog.validate(spec.id, values)
        except catalog.ValidationFailed:
            normalized = None
    if normalized is not None:
        price = catalog.quote(spec.id, normalized)
        price_view = PriceView(price.credits, price.breakdown, exact=True)
    else:
        price_view = estimate(spec, values)
    base_url = settings.PUBLIC_BASE_URL or request_base_url(request)
    shown_input = normalized if normalized is not None else values
    codes = all_snippets(base_url, spec.id, shown_input)
    return Check(
        normalized,
        price_view,
        [{"id": k, "label": SNIPPET_LABELS.get(k, k), "code": code} for k, code in codes.items()],
    )


def field_rows(spec: ModelSpec, form: CatalogForm) -> list[dict[str, Any]]:
    """Each field with what the template needs beside the widget."""
    rows = []
    for field in spec.fields:
        bound = form[field.name]
        attrs = form.fields[field.name].widget.attrs
        attrs["aria-describedby"] = f"errors-{field.name} help-{field.name}"
        if form.is_bound and field.name in form.errors:
            attrs["aria-invalid"] = "true"
        length = None
        if field.max_length is not None:
            text = str(bound.value() or "")
            length = len(text.replace("\r\n", "\n"))
        upload = UPLOAD_KINDS.get(field.type)
        slots = []
        if field.items:
            widgets = list(bound.subwidgets)
            for item, widget in zip(field.items, widgets, strict=True):
                preview = _preview_urls(widget.data["value"])
                slots.append({"label": item.label, "widget": widget, "preview": preview})
        rows.append(
            {
                "bound": bound,
                "spec": field,
                "length": length,
                "upload": upload,
                "accept": ",".join(field.accept) or ("video/mp4" if upload == "video" else ""),
                "preview": _preview_urls(bound.value()) if upload else [],
                "slots": slots,
                "applies": applies_text(spec, field),
            }
        )
    return rows


def _preview_urls(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return []


def remix_source(request: HttpRequest) -> Generation | None:
    task_id = request.POST.get("from") or request.GET.get("from")
    if not task_id:
        return None
    return team_generation_or_404(request, task_id.strip())


def initial_from(spec: ModelSpec, generation: Generation) -> dict[str, Any]:
    initial = {}
    for field in spec.fields:
        if field.name in generation.input:
            value = generation.input[field.name]
            initial[field.name] = "\n".join(value) if isinstance(value, list) else value
    return initial


def page_context(
    request: HttpRequest,
    spec: ModelSpec,
    form: CatalogForm,
    *,
    source: Generation | None = None,
    notice: str = "",
) -> dict[str, Any]:
    live = check(request, spec, form)
    return {
        "spec": spec,
        "form": form,
        "fields": field_rows(spec, form),
        "price": live.price,
        "snippets": live.snippets,
        "key_variable": KEY_VARIABLE,
        "source": source,
        "notice": notice,
        "available": available_credits(request),
    }


@login_required
def model_page(request: HttpRequest, model_id: str) -> HttpResponse:
    spec = spec_or_404(model_id)
    source = remix_source(request)
    if source is not None and source.model_id != spec.id and request.method == "GET":
        return redirect(f"{reverse('model', args=[source.model_id])}?from={source.task_id}")
    if spec.id != model_id and request.method == "GET":
        # An alias: one page per model, under its id.
        return redirect("model", spec.id)
    if request.method == "POST":
        return submit(request, spec, source)
    form_cls = catalog.form_class(spec.id)
    form = form_cls(initial=initial_from(spec, source) if source else None)
    context = page_context(request, spec, form, source=source)
    return render(request, "pages/playground.html", context)


def submit(request: HttpRequest, spec: ModelSpec, source: Generation | None) -> HttpResponse:
    form = catalog.form_class(spec.id)(request.POST)
    notice = ""
    if form.is_valid():
        try:
            generation = services.submit(
                user=request.user,
                model=spec.id,
                input=form.normalized,
                source=Generation.SOURCE_PLAYGROUND,
                contract="playground",
                remixed_from=source,
            )
        except catalog.ValidationFailed as failure:
            for name, messages in failure.errors.items():
                form.add_error(name if name in form.fields else None, messages)
        except (
            services.ModelUnavailable,
            services.TooManyUnfinished,
            budgets.BudgetExceeded,
        ) as refusal:
            notice = str(refusal)
        except ledger.InsufficientCredits as refusal:
            notice = (
                f"Not enough credits: this generation costs {refusal.required} credits and "
                f"you have {refusal.available} available. Nothing was charged."
            )
        else:
            if not request.htmx:
                return redirect("generation", generation.task_id)
            context = {"generation": generation, "available": available_credits(request)}
            return render(request, "pages/playground.html#submitted", context)
    if not notice:
        notice = "Please fix the highlighted fields."
    context = page_context(request, spec, form, source=source, notice=notice)
    template = "pages/playground.html" + ("#submit-refused" if request.htmx else "")
    return render(request, template, context)


@login_required
@require_POST
def validate(request: HttpRequest, model_id: str) -> HttpResponse:
    """The form's field errors (out of band, in place), its price and its API call."""
    spec = spec_or_404(model_id)
    form = catalog.form_class(spec.id)(request.POST)
    context = page_context(request, spec, form)
    return render(request, "pages/playground.html#live-check", context)
