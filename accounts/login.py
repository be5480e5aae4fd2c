"""Sign-in, throttled per account and per client address (accounts/throttle.py).

Django's own login view and forms, with one step before authenticating:
past LOGIN_FAILURES_PER_ACCOUNT failed sign-ins for a username, or
LOGIN_FAILURES_PER_ADDRESS from one address, within
LOGIN_FAILURE_WINDOW_SECONDS, every attempt is refused unchecked (even with
the right password) until the window ends, with a message that says so
and, on the login page, a 429 with Retry-After. The admin's login form is
throttled the same way (accounts/admin.py). A username that does not exist
is counted like one that does, so the answers tell nothing about which
accounts exist.
"""

from __future__ import annotations

import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from accounts import throttle


def _wait_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class ThrottledLoginMixin:
    """For Django's authentication forms: refuse while throttled, count failures."""

    retry_after = 0

    def clean(self):
        account = (self.cleaned_data.get("username") or "").strip().casefold()
        address = throttle.client_address(self.request)
        self.retry_after = max(
            throttle.refused_for(throttle.login_account(), account),
            throttle.refused_for(throttle.login_address(), address),
        )
        if self.retry_after:
            raise ValidationError(
                "Too many failed sign-ins for this account or from your network. "
                f"Try again in {_wait_words(self.retry_after)}.",
                code="throttled",
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.count_failure(throttle.login_account(), account)
            throttle.count_failure(throttle.login_address(), address)
            raise
        # The address's count stays: signing in to one's own account must
        # not buy more guesses at others'.
        throttle.forget(throttle.login_account(), account)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
