from django.urls import path

from playground.api import (
    docs,
    generate_task,
    jobs,
    openai_videos,
    openapi,
    replicate_files,
    replicate_predictions,
    uploads,
    upstream_callbacks,
    video_generations,
)

urlpatterns = [
    path("api/openapi.json", openapi.openapi_json, name="openapi"),
    path("docs/", docs.docs_index, name="docs"),
    path("docs/models/<path:model>/", docs.model_docs, name="docs-model"),
    path(
        "api/upstream-callbacks/<str:task_id>/<str:token>",
        upstream_callbacks.upstream_callback,
        name="upstream-callback",
    ),
    path("api/v1/jobs/createTask", jobs.create_task, name="jobs-create"),
    path("api/v1/jobs/recordInfo", jobs.record_info, name="jobs-record"),
    path("api/v1/jobs/cancel", jobs.cancel, name="jobs-cancel"),
    path("api/v1/chat/credit", jobs.chat_credit, name="chat-credit"),
    path("api/v1/account/credits", jobs.account_credits, name="account-credits"),
    path("api/v1/video/generations", video_generations.generations, name="video-generations"),
    path("api/v1/generateTask/<path:model>", generate_task.generate, name="generate-task"),
    path("api/v1/statusTask/<path:model>", generate_task.status, name="status-task"),
    path("api/file-stream-upload", uploads.file_stream_upload, name="file-stream-upload"),
    path("api/file-base64-upload", uploads.file_base64_upload, name="file-base64-upload"),
    path("api/file-url-upload", uploads.file_url_upload, name="file-url-upload"),
    # The OpenAI videos contract: the `openai` SDK with base_url=<host>/v1.
    path("v1/videos", openai_videos.videos, name="openai-videos"),
    path("v1/videos/<str:video_id>", openai_videos.video, name="openai-video"),
    path("v1/videos/<str:video_id>/content", openai_videos.content, name="openai-video-content"),
    path("v1/videos/<str:video_id>/remix", openai_videos.remix, name="openai-video-remix"),
    # The Replicate predictions contract: the `replicate` client with base_url=<host>.
    path(
        "v1/models/<str:owner>/<str:name>/predictions",
        replicate_predictions.model_predictions,
        name="replicate-model-predictions",
    ),
    path("v1/models/<str:owner>/<str:name>", replicate_predictions.model, name="replicate-model"),
    path(
        "v1/models/<str:owner>/<str:name>/versions",
        replicate_predictions.versions,
        name="replicate-versions",
    ),
    path(
        "v1/models/<str:owner>/<str:name>/versions/<str:version_id>",
        replicate_predictions.version,
        name="replicate-version",
    ),
    path("v1/predictions", replicate_predictions.predictions, name="replicate-predictions"),
    path(
        "v1/predictions/<str:prediction_id>",
        replicate_predictions.prediction_detail,
        name="replicate-prediction",
    ),
    path(
        "v1/predictions/<str:prediction_id>/cancel",
        replicate_predictions.cancel,
        name="replicate-cancel",
    ),
    path(
        "v1/webhooks/default/secret",
        replicate_predictions.webhook_secret,
        name="replicate-webhook-secret",
    ),
    # Its files API: where the client uploads a prediction's file inputs first.
    path("v1/files", replicate_files.files, name="replicate-files"),
    path("v1/files/<str:file_id>", replicate_files.file_detail, name="replicate-file"),
]
