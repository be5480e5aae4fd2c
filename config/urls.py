from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.static import serve

from accounts.login import LoginView
from playground.ops import views as ops

urlpatterns = [
    # Load balancers' probes (docs/deploy.md): no key, no login, no redirect.
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    # Prometheus's scrape, behind METRICS_TOKEN.
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Result videos, posters and uploads live at unguessable paths; the path
    # is the capability, as with a gateway's signed result URLs. A reverse
    # proxy or object storage can serve MEDIA_ROOT instead in production.
    re_path(
        rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$",
        serve,
        {"document_root": settings.MEDIA_ROOT},
        name="media",
    ),
    path("", include("playground.api.urls")),
    path("", include("playground.urls")),
]

handler404 = "playground.api.errors.not_found"
