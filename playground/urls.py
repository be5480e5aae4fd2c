"""Browser routes. The public JSON API is routed from config/urls.py."""

from django.urls import include, path

from playground.pages import (
    account,
    budgets,
    catalog,
    gallery,
    generations,
    playground,
    team,
    uploads,
    usage,
)

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
    path("generations/<str:task_id>/delete/", generations.delete, name="generation-delete"),
    path("generations/<str:task_id>/favourite/", gallery.favourite, name="favourite"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("gallery/download/", gallery.download, name="gallery-download"),
    path("gallery/delete/", gallery.delete, name="gallery-delete"),
    path("usage/", usage.usage_page, name="usage"),
    path("usage/export.csv", usage.export_csv, name="usage-export"),
    path("account/", account.account, name="account"),
    path("account/ledger.csv", account.export_ledger, name="export-ledger"),
    path("account/keys/", account.create_key, name="create-key"),
    path("account/keys/<str:prefix>/revoke/", account.revoke_key, name="revoke-key"),
    path("team/", team.team, name="team"),
    path("team/invitations/", team.invite, name="team-invite"),
    path(
        "team/invitations/<int:pk>/revoke/",
        team.revoke_invitation,
        name="team-invitation-revoke",
    ),
    path("team/members/<int:pk>/role/", team.change_role, name="team-member-role"),
    path("team/members/<int:pk>/remove/", team.remove_member, name="team-member-remove"),
    path("team/keys/<str:prefix>/revoke/", team.revoke_key, name="team-key-revoke"),
    path("team/audit/", team.audit, name="team-audit"),
    path("team/budgets/", budgets.budgets_page, name="team-budgets"),
    path("team/budgets/members/<int:pk>/", budgets.set_member_budget, name="team-member-budget"),
    path("team/budgets/keys/<str:prefix>/", budgets.set_key_budget, name="team-key-budget"),
    path("team/budgets/<int:pk>/remove/", budgets.remove_budget, name="team-budget-remove"),
    path("team/credits/", budgets.grant, name="team-grant"),
    # An invitation link: the token is the capability, as an API key is.
    path("join/<str:token>/", team.join, name="join"),
    path("", include("playground.webhooks.urls")),
]
