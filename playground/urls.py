"""Browser routes. The public JSON API is routed from config/urls.py."""

from django.urls import include, path

from playground.pages import account, catalog, gallery, generations, playground, uploads

urlpatterns = [
    path("", catalog.home, name="home"),
    # Model ids contain slashes (kling/v2-1): the more specific route first.
    path("models/<path:model_id>/validate/", playground.validate, name="model-validate"),
    path("models/<path:model_id>/", playground.model_page, name="model"),
    path("uploads/", uploads.upload, name="upload"),
    path("generations/<str:task_id>/", generations.detail, name="generation"),
    path("generations/<str:task_id>/status/", generations.status, name="generation-status"),
    path("generations/<str:task_id>/run-again/", generations.run_again, name="run-again"),
    path("generations/<str:task_id>/cancel/", generations.cancel, name="cancel"),
    path("generations/<str:task_id>/favourite/", gallery.favourite, name="favourite"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("gallery/download/", gallery.download, name="gallery-download"),
    path("gallery/delete/", gallery.delete, name="gallery-delete"),
    path("account/", account.account, name="account"),
    path("account/ledger.csv", account.export_ledger, name="export-ledger"),
    path("account/keys/", account.create_key, name="create-key"),
    path("account/keys/<str:prefix>/revoke/", account.revoke_key, name="revoke-key"),
    path("", include("playground.webhooks.urls")),
]
