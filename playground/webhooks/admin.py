"""Admin pages: the delivery log (attempts inline, a redeliver action) and endpoints."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from playground.webhooks import delivery
from playground.webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["number", "at", "status", "latency_ms", "error", "response_excerpt", "worker"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "event_type",
        "task_id",
        "user",
        "target",
        "status",
        "attempt_count",
        "created_at",
        "last_attempt_at",
    ]
    list_filter = ["status", "kind", "event_type", "created_at"]
    search_fields = ["task_id", "message_id", "url", "user__username"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    fields = [
        "kind",
        "event_type",
        "status",
        "user",
        "generation",
        "endpoint",
        "task_id",
        "url",
        "message_id",
        "payload",
        "attempt_count",
        "first_attempt_at",
        "last_attempt_at",
        "delivered_at",
        "next_attempt_at",
        "round_started_at",
        "round_attempts",
        "lease_holder",
        "lease_expires_at",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a log: read it, redeliver it, never edit it

    @admin.display(description="to")
    def target(self, item):
        return item.shown_url

    @admin.display(description="body")
    def payload(self, item):
        try:
            text = json.dumps(json.loads(item.body), indent=2, ensure_ascii=False)
        except ValueError:
            text = item.body
        return format_html("<pre>{}</pre>", text)

    @admin.action(description="Redeliver selected deliveries (a new round of retries)")
    def redeliver(self, request, queryset):
        queued = sum(delivery.redeliver(pk) for pk in queryset.values_list("pk", flat=True))
        skipped = queryset.count() - queued
        message = f"Queued {queued} delivery(ies) again."
        if skipped:
            message += f" {skipped} being sent right now were left alone."
        messages.success(request, message)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "user", "events", "enabled", "created_at"]
    list_filter = ["enabled", "created_at"]
    list_editable = ["enabled"]
    search_fields = ["url", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
