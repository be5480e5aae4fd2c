from django import forms

from playground.outbound import callback_url_error
from playground.webhooks.models import EVENT_TYPES, WebhookEndpoint

# Enough for any real setup; a cap keeps one account from fanning out without bound.
MAX_ENDPOINTS = 20


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/reelgate"}),
    )
    events = forms.MultipleChoiceField(
        choices=EVENT_TYPES,
        initial=[value for value, _ in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one event."},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        # The same early check as an API callBackUrl; sending checks again.
        problem = callback_url_error(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean(self):
        if WebhookEndpoint.objects.filter(user=self.user).count() >= MAX_ENDPOINTS:
            raise forms.ValidationError(f"An account can have at most {MAX_ENDPOINTS} endpoints.")
        return super().clean()

    def save(self) -> WebhookEndpoint:
        return WebhookEndpoint.objects.create(
            user=self.user,
            url=self.cleaned_data["url"],
            events=[value for value, _ in EVENT_TYPES if value in self.cleaned_data["events"]],
        )
