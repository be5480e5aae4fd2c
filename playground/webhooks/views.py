"""The account page's webhooks panel: endpoints, the signing secret, recent deliveries.

Plain function views. An htmx request gets back the partial it changed; a
plain form post (no JavaScript) is redirected to the account page. Everything
here is the signed-in user's own: another user's endpoint or delivery is a
404, exactly like one that does not exist.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from playground.webhooks import delivery, events
from playground.webhooks.forms import EndpointForm
from playground.webhooks.models import Delivery, WebhookEndpoint

RECENT_DELIVERIES = 20


def panel_context(request: HttpRequest) -> dict:
    """Everything the account page's webhooks panel needs (the page adds it to its own)."""
    return endpoints_context(request) | deliveries_context(request)


def endpoints_context(request: HttpRequest, form: EndpointForm | None = None) -> dict:
    return {
        "webhook_endpoints": list(WebhookEndpoint.objects.filter(user=request.user)),
        "endpoint_form": form or EndpointForm(user=request.user),
    }


def deliveries_context(request: HttpRequest, **extra) -> dict:
    recent = list(
        Delivery.objects.filter(user=request.user)
        .select_related("endpoint")
        .prefetch_related("attempts")[:RECENT_DELIVERIES]
    )
    return {
        "webhook_deliveries": recent,
        "deliveries_pending": any(item.is_pending for item in recent),
        **extra,
    }


def _back_to_account() -> HttpResponse:
    return redirect(reverse("account") + "#webhooks")


@login_required
@require_GET
def panel(request: HttpRequest) -> HttpResponse:
    if not request.htmx:
        return _back_to_account()
    return render(request, "pages/account.html#webhooks", panel_context(request))


@login_required
@require_POST
def create_endpoint(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST, user=request.user)
    if form.is_valid():
        form.save()
        form = None
    if not request.htmx:
        if form is not None:
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
        return _back_to_account()
    return render(request, "pages/account.html#webhook-endpoints", endpoints_context(request, form))


def _own_endpoint(request: HttpRequest, pk: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, pk=pk, user=request.user)


@login_required
@require_POST
def delete_endpoint(request: HttpRequest, pk: int) -> HttpResponse:
    _own_endpoint(request, pk).delete()
    if not request.htmx:
        return _back_to_account()
    return render(request, "pages/account.html#webhook-endpoints", endpoints_context(request))


@login_required
@require_POST
def toggle_endpoint(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    endpoint.enabled = not endpoint.enabled
    endpoint.save(update_fields=["enabled"])
    if not request.htmx:
        return _back_to_account()
    return render(request, "pages/account.html#webhook-endpoints", endpoints_context(request))


@login_required
@require_POST
def test_endpoint(request: HttpRequest, pk: int) -> HttpResponse:
    events.send_test_event(_own_endpoint(request, pk))
    if not request.htmx:
        messages.success(request, "Test event queued; see Recent deliveries.")
        return _back_to_account()
    return render(request, "pages/account.html#webhook-deliveries", deliveries_context(request))


@login_required
@require_GET
def deliveries(request: HttpRequest) -> HttpResponse:
    if not request.htmx:
        return _back_to_account()
    return render(request, "pages/account.html#webhook-deliveries", deliveries_context(request))


@login_required
@require_POST
def redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Delivery, pk=pk, user=request.user)
    queued = delivery.redeliver(item.pk)
    notice = "Redelivery queued." if queued else "It is being sent right now; try again shortly."
    if not request.htmx:
        (messages.success if queued else messages.warning)(request, notice)
        return _back_to_account()
    return render(
        request,
        "pages/account.html#webhook-deliveries",
        deliveries_context(request, delivery_notice=notice),
    )


def _secret_response(request: HttpRequest, secret: str, rotated: bool) -> HttpResponse:
    context = {"webhook_secret": secret, "secret_rotated": rotated}
    if request.htmx:
        return render(request, "pages/account.html#webhook-secret", context)
    # Without JavaScript the secret needs a page of its own: it must not
    # travel through a redirect (messages may be kept in a cookie).
    return render(request, "pages/webhook_secret.html", context)


@never_cache
@login_required
@require_POST
def reveal_secret(request: HttpRequest) -> HttpResponse:
    return _secret_response(request, request.user.profile.signing_secret(), rotated=False)


@never_cache
@login_required
@require_POST
def rotate_secret(request: HttpRequest) -> HttpResponse:
    return _secret_response(request, request.user.profile.rotate_signing_secret(), rotated=True)
