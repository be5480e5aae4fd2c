"""Prompt moderation: a configurable list of blocked terms (MODERATION_BLOCKED_TERMS)."""

import re

from django.conf import settings


def blocked_term(*texts: str) -> str | None:
    """The first blocked term found as a whole word in any of `texts`, or None."""
    for term in settings.MODERATION_BLOCKED_TERMS:
        pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
        if any(pattern.search(text or "") for text in texts):
            return term
    return None
