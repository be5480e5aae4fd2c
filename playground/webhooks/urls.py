"""The webhooks panel of the account page, under /account/webhooks/.

Wired in with `path("", include("playground.webhooks.urls"))`.
"""

from django.urls import path

from playground.webhooks import views

urlpatterns = [
    path("account/webhooks/", views.panel, name="webhooks"),
    path("account/webhooks/endpoints/", views.create_endpoint, name="webhook-endpoint-create"),
    path(
        "account/webhooks/endpoints/<int:pk>/delete/",
        views.delete_endpoint,
        name="webhook-endpoint-delete",
    ),
    path(
        "account/webhooks/endpoints/<int:pk>/toggle/",
        views.toggle_endpoint,
        name="webhook-endpoint-toggle",
    ),
    path(
        "account/webhooks/endpoints/<int:pk>/test/",
        views.test_endpoint,
        name="webhook-endpoint-test",
    ),
    path("account/webhooks/secret/", views.reveal_secret, name="webhook-secret"),
    path("account/webhooks/secret/rotate/", views.rotate_secret, name="webhook-secret-rotate"),
    path("account/webhooks/deliveries/", views.deliveries, name="webhook-deliveries"),
    path(
        "account/webhooks/deliveries/<int:pk>/redeliver/",
        views.redeliver,
        name="webhook-redeliver",
    ),
]
