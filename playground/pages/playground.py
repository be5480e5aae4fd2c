"""A model's playground: the form built from its spec, live checks, submit.

The form is `catalog.form_class`, whose clean() is `catalog.validate`: the
live check, the submit and every API contract judge input the same way, and
the price shown is `catalog.quote` of exactly what would be submitted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.forms import BoundField
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import budgets, ledger
from playground import catalog, services
from playground.catalog import ModelSpec
from playground.catalog.forms import CatalogForm, image_list, image_row_label
from playground.catalog.rules import applies_text
from playground.catalog.spec import FieldSpec
from playground.catalog.values import Invalid, coerce, is_blank
from playground.contracts.snippets import KEY_VARIABLE, all_snippets, draft_input
from playground.contracts.wire import request_base_url
from playground.models import Generation
from playground.pages.common import spendable, team_generation_or_404

# The request panel's tabs, in the order the shared snippets come.
SNIPPET_LABELS = {"curl": "curl", "python": "Python (httpx)", "javascript": "JavaScript (fetch)"}
UPLOAD_KINDS = {"image_url": "image", "image_urls": "image", "video_url": "video"}
IMAGE_TYPES = ("image_url", "image_urls")
PREVIEW_URL = re.compile(r"https?://\S+\Z", re.IGNORECASE)
# The hidden input playground.js keeps the touched fields' names in ("*": all).
TOUCHED = "_touched"


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
            value = image_list(value, positional=bool(field.items))
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
    shown_input = normalized if normalized is not None else draft_input(spec, values)
    codes = all_snippets(base_url, spec.id, shown_input)
    return Check(
        normalized,
        price_view,
        [{"id": k, "label": SNIPPET_LABELS.get(k, k), "code": code} for k, code in codes.items()],
    )


def touched_fields(request: HttpRequest, spec: ModelSpec) -> frozenset[str] | None:
    """The fields whose errors the live check shows: those the person changed
    (None: all of them, once they tried to generate)."""
    posted = request.POST.get(TOUCHED, "")
    if posted.strip() == "*":
        return None
    return frozenset(posted.split(",")) & frozenset(spec.field_names)


def field_rows(
    spec: ModelSpec, form: CatalogForm, touched: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """Each field with what the template needs beside the widget.

    A field's errors show once it is touched (`touched` None: every field);
    the validator judged it anyway, so the price and the API call are right.
    """
    rows = []
    for field in spec.fields:
        bound = form[field.name]
        attrs = form.fields[field.name].widget.attrs
        attrs["aria-describedby"] = f"errors-{field.name} help-{field.name}"
        shown = form.is_bound and (touched is None or field.name in touched)
        errors = list(bound.errors) if shown else []
        if errors:
            attrs["aria-invalid"] = "true"
        else:
            attrs.pop("aria-invalid", None)
        length = None
        if field.max_length is not None:
            text = str(bound.value() or "")
            length = len(text.replace("\r\n", "\n"))
        upload = UPLOAD_KINDS.get(field.type)
        images = image_rows(field, bound) if field.type in IMAGE_TYPES else []
        rows.append(
            {
                "bound": bound,
                "spec": field,
                "errors": errors,
                "pending": bool(bound.errors) and not errors,
                "length": length,
                "upload": upload,
                "accept": ",".join(field.accept) or ("video/mp4" if upload == "video" else ""),
                "images": images,
                # The "Add" button's text: the first spare row's ("Add end frame").
                "add_label": next((i["add_label"] for i in images if i.get("spare")), ""),
                "preview": _thumb(str(bound.value() or "").strip()) if upload == "video" else "",
                "applies": applies_text(spec, field),
            }
        )
    return rows


def image_rows(field: FieldSpec, bound: BoundField) -> list[dict[str, Any]]:
    """An image field as rows: one URL each, with its label and thumbnail.

    An image_urls field has a row for every image it may hold; those past
    the last URL given (and past min_items) are spares, hidden until the
    page's "Add" button brings them in.
    """
    if field.type == "image_url":
        url = str(bound.value() or "").strip()
        return [{"label": field.label, "widget": bound, "thumb": _thumb(url)}]
    widgets = list(bound.subwidgets)
    urls = [str(widget.data["value"] or "").strip() for widget in widgets]
    filled = [index for index, url in enumerate(urls) if url]
    in_use = max(filled[-1] + 1 if filled else 0, field.min_items or 0, 1)
    rows = []
    for index, (widget, url) in enumerate(zip(widgets, urls, strict=True)):
        label = image_row_label(field, index)
        what = label[0].lower() + label[1:] if index < len(field.items) else "image"
        rows.append(
            {
                "label": label,
                "widget": widget,
                "thumb": _thumb(url),
                "spare": index >= in_use,
                "add_label": f"Add {what}",
            }
        )
    return rows


def _thumb(url: str) -> str:
    """The URL to show as a preview: only one the validator could take."""
    return url if PREVIEW_URL.match(url) else ""


def remix_source(request: HttpRequest) -> Generation | None:
    task_id = request.POST.get("from") or request.GET.get("from")
    if not task_id:
        return None
    return team_generation_or_404(request, task_id.strip())


def initial_from(spec: ModelSpec, generation: Generation) -> dict[str, Any]:
    return {
        field.name: generation.input[field.name]
        for field in spec.fields
        if field.name in generation.input
    }


def page_context(
    request: HttpRequest,
    spec: ModelSpec,
    form: CatalogForm,
    *,
    source: Generation | None = None,
    notice: str = "",
    touched: frozenset[str] | None = None,
) -> dict[str, Any]:
    live = check(request, spec, form)
    rows = field_rows(spec, form, touched)
    available, budget = spendable(request)
    # What Generate would hold: the price, or while the options are not all
    # chosen the least any choice costs.
    cost = live.price.credits if live.price else spec.price_from
    return {
        "spec": spec,
        "form": form,
        "fields": rows,
        "price": live.price,
        # Fields the validator refuses but the person has not reached yet.
        "pending": [row["bound"].label for row in rows if row["pending"]],
        "highlighted": any(row["errors"] for row in rows),
        "form_errors": form.non_field_errors() if touched is None else [],
        "snippets": live.snippets,
        "key_variable": KEY_VARIABLE,
        "source": source,
        "notice": notice,
        "available": available,
        # The member's budget leaves less than the team's wallet holds.
        "budget_short": budget is not None and budget.remaining == available,
        "can_grant": request.user.profile.is_owner(),
        "cost": cost,
        "short": cost > available,
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
            # The credits it holds leave the header's balance and may leave
            # too few for another: both are swapped in beside the panel.
            context = page_context(request, spec, form, source=source)
            context["generation"] = generation
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
    context = page_context(request, spec, form, touched=touched_fields(request, spec))
    return render(request, "pages/playground.html#live-check", context)
