"""The Content-Security-Policy and Permissions-Policy of every response.

Django 5.2 has no CSP of its own (6.0 adds one), so this small middleware
sets both headers; Django's SecurityMiddleware sets Referrer-Policy,
X-Content-Type-Options and Cross-Origin-Opener-Policy (config/settings.py).

The pages run no inline script and no inline style: htmx and the small
files in static/js are scripts from our own origin, htmx is told not to
inject its indicator styles or evaluate attribute code (the htmx-config
meta tag in templates/base.html), and static/css/app.css holds every rule.
Images and videos may come from anywhere: the playground previews the image
URL a user types, and result files live on object storage or a CDN when
MEDIA_STORAGE=s3.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src * data: blob:",
        "media-src * blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Browser features no page uses, turned off for the page and anything it embeds.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # setdefault: a view that needs another policy may set its own.
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
