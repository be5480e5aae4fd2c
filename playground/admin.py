from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from accounts.models import LedgerEntry
from playground import providers, services
from playground.models import Generation, GenerationEvent, Provider
from playground.providers import health
from playground.webhooks import admin as webhooks_admin  # noqa: F401  (registers its pages)

# The credentials each kind may use; the form's secret fields, write-only.
CREDENTIAL_FIELDS = {
    "api_key": "API key (every kind but Vertex AI; Kling's plain API key)",
    "access_key": "Kling access key (with its secret key, for JWTs)",
    "secret_key": "Kling secret key",
    "service_account_json": "Vertex AI service-account JSON",
}


class ProviderForm(forms.ModelForm):
    """Credentials are write-only: never shown back, each kept when left blank."""

    base_url = forms.URLField(
        required=False, assume_scheme="https", help_text="Blank: the kind's public API."
    )
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=CREDENTIAL_FIELDS["api_key"],
    )
    access_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=CREDENTIAL_FIELDS["access_key"],
    )
    secret_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=CREDENTIAL_FIELDS["secret_key"],
    )
    service_account_json = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=CREDENTIAL_FIELDS["service_account_json"] + " (never shown back)",
    )
    clear_credentials = forms.BooleanField(
        required=False, help_text="Forget every stored credential of this provider."
    )

    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "base_url",
            "options",
            "model_map",
            "model_ids",
            "costs",
            "priority",
            "weight",
            "enabled",
        ]

    def save(self, commit=True):
        provider = super().save(commit=False)
        credentials = {} if self.cleaned_data.get("clear_credentials") else provider.credentials
        for name in CREDENTIAL_FIELDS:
            value = (self.cleaned_data.get(name) or "").strip()
            if value:
                credentials = {**credentials, name: value}
        provider.credentials = credentials
        if commit:
            provider.save()
        return provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "kind", "base_url", "credentials_set", "priority", "enabled", "breaker"]
    list_editable = ["priority", "enabled"]
    list_filter = ["kind", "enabled"]
    readonly_fields = ["credentials_set", "last_24_hours", "test_connection"]
    actions = ["test_connections"]

    @admin.display(description="Credentials")
    def credentials_set(self, provider):
        return provider.masked_credentials or "—"

    @admin.display(description="Breaker")
    def breaker(self, provider):
        cooling = provider.cooling_until
        return f"open until {cooling:%H:%M:%S}" if cooling else "closed"

    @admin.display(description="Last 24 hours")
    def last_24_hours(self, provider):
        if not provider.pk:
            return "—"
        figures = health.health(provider)
        failures = ", ".join(f"{code} {n}" for code, n in figures.failures.items()) or "none"
        rows = [
            ("Submits accepted", figures.submits),
            ("Succeeded", figures.succeeded),
            ("Still running", figures.running),
            ("Failed", failures),
            ("Time to success, median", _seconds(figures.median_seconds)),
            ("Time to success, p95", _seconds(figures.p95_seconds)),
            (
                "Breaker",
                f"open until {figures.cooling_until}" if figures.cooling_until else "closed",
            ),
            (
                "Last error",
                f"{figures.last_error_at}: {figures.last_error}" if figures.last_error else "none",
            ),
        ]
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    @admin.display(description="Connection")
    def test_connection(self, provider):
        if not provider.pk:
            return "Save the provider first."
        # formaction: a second submit button of the change form, posting
        # (with its CSRF token) to the test view instead of saving.
        return format_html(
            '<button type="submit" formaction="{}" formnovalidate>Test connection</button>'
            " <span class=help>One cheap authenticated call; nothing is generated.</span>",
            reverse("admin:playground_provider_test", args=[provider.pk]),
        )

    def get_urls(self):
        test = path(
            "<int:provider_id>/test-connection/",
            self.admin_site.admin_view(self.test_view),
            name="playground_provider_test",
        )
        return [test, *super().get_urls()]

    def test_view(self, request, provider_id: int):
        provider = get_object_or_404(Provider, pk=provider_id)
        if request.method != "POST" or not self.has_change_permission(request, provider):
            raise PermissionDenied
        self._report_check(request, provider)
        return redirect("admin:playground_provider_change", provider.pk)

    @admin.action(description="Test connection of selected providers")
    def test_connections(self, request, queryset):
        for provider in queryset:
            self._report_check(request, provider)

    def _report_check(self, request, provider: Provider) -> None:
        worked, said = providers.check(provider)
        level = messages.SUCCESS if worked else messages.ERROR
        messages.add_message(request, level, f"{provider.name}: {said}")


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


class GenerationEventInline(admin.TabularInline):
    model = GenerationEvent
    fields = ["at", "from_state", "to_state", "note", "worker"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    # Few and narrow columns, so the list fits a 1280 px screen beside the
    # admin's navigation and the filters: the prompt and the task id share one;
    # the provider, the lease and the rest are on each generation's page.
    list_display = ["generation", "model_id", "owner", "status", "credits", "created"]
    list_filter = ["state", "model_id", "source", "provider", "created_at"]
    search_fields = ["task_id", "owner__username", "upstream_ref"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [GenerationEventInline]
    actions = ["cancel_generations"]
    readonly_fields = [
        "task_id",
        "owner",
        "team",
        "api_key",
        "source",
        "contract",
        "model_id",
        "model_name",
        "input",
        "request",
        "state",
        "progress",
        "fail_code",
        "fail_msg",
        "provider",
        "upstream_ref",
        "upstream_cost_usd",
        "next_poll_at",
        "poll_count",
        "poll_errors",
        "deadline_at",
        "video_link",
        "poster",
        "duration",
        "width",
        "height",
        "size_bytes",
        "has_audio",
        "quoted_credits",
        "charged_credits",
        "price_breakdown",
        "callback_url",
        "idempotency_key",
        "lease_holder",
        "lease_expires_at",
        "attempts",
        "created_at",
        "started_at",
        "completed_at",
        "ledger_entries",
        "remixed_from",
    ]
    exclude = ["video", "request_hash"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="generation")
    def generation(self, generation):
        return format_html(
            '{}<br><small class="task-id">{}</small>',
            Truncator(generation.prompt).chars(40) or "(no prompt)",
            generation.task_id,
        )

    @admin.display(description="state", ordering="state")
    def status(self, generation):
        if generation.state == Generation.GENERATING:
            return f"{generation.state} {generation.progress}%"
        return generation.state

    @admin.display(description="credits", ordering="charged_credits")
    def credits(self, generation):
        """What it was charged once finished; what is held for it while it runs."""
        if generation.is_finished:
            return generation.charged_credits
        return f"{generation.quoted_credits} held"

    @admin.display(description="created", ordering="created_at")
    def created(self, generation):
        moment = timezone.localtime(generation.created_at)
        return format_html("{}<br>{}", format_date(moment, "M j"), format_date(moment, "H:i"))

    @admin.display(description="video")
    def video_link(self, generation):
        if not generation.video:
            return "—"
        return format_html('<a href="{}">{}</a>', generation.video.url, generation.video.name)

    @admin.display(description="ledger entries")
    def ledger_entries(self, generation):
        entries = LedgerEntry.objects.filter(reference=generation.hold_reference).order_by("id")
        return (
            format_html_join(
                "\n",
                "<div>{} · {} · balance {} · held {}</div>",
                ((e.created_at, e.kind, e.amount, e.held_change) for e in entries),
            )
            or "—"
        )

    @admin.action(description="Cancel selected unfinished generations (nothing charged)")
    def cancel_generations(self, request, queryset):
        cancelled = sum(
            services.cancel(g) for g in queryset.filter(state__in=Generation.UNFINISHED)
        )
        messages.success(request, f"Cancelled {cancelled} generation(s).")
