"""Keyset (cursor) pagination over (created_at, id), newest first.

A page is "the N rows just older (or newer) than this row", so each page
costs one indexed range scan however deep it is: no OFFSET, which reads and
throws away every earlier row, and no COUNT(*) over the whole set.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Model, Q, QuerySet


@dataclass
class Page:
    rows: list = field(default_factory=list)
    # Cursors for the neighbouring pages; None when there is nothing there.
    older: str | None = None
    newer: str | None = None

    @property
    def is_first(self) -> bool:
        return self.newer is None


def cursor_for(row: Model) -> str:
    raw = f"{row.created_at.isoformat()}|{row.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """(created_at, id) from a cursor; None for a missing or malformed one."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.rsplit("|", 1)
        created_at = datetime.fromisoformat(stamp)
        return (created_at, int(pk)) if created_at.tzinfo else None
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None


def paginate(
    queryset: QuerySet, *, size: int, older: str | None = None, newer: str | None = None
) -> Page:
    """One page of `queryset`, newest first, after the `older` or before the `newer` cursor.

    One query: it fetches size + 1 rows and the extra one only says whether
    another page follows. A malformed cursor gives the first page.
    """
    after = parse_cursor(older)
    before = parse_cursor(newer) if after is None else None
    if before is not None:
        created_at, pk = before
        newer_rows = queryset.filter(
            # The plain bound lets the index range start at the cursor; the OR
            # alone is only a filter, applied to every row from the top.
            Q(created_at__gte=created_at),
            Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk),
        ).order_by("created_at", "pk")
        rows = list(newer_rows[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        if not rows:
            # Everything newer was deleted meanwhile: start from the top.
            return paginate(queryset, size=size)
        return Page(
            rows=rows,
            older=cursor_for(rows[-1]),
            newer=cursor_for(rows[0]) if more_newer else None,
        )

    ordered = queryset.order_by("-created_at", "-pk")
    if after is not None:
        created_at, pk = after
        ordered = ordered.filter(
            Q(created_at__lte=created_at),  # the index range bound (see above)
            Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk),
        )
    rows = list(ordered[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    return Page(
        rows=rows,
        older=cursor_for(rows[-1]) if more_older else None,
        newer=cursor_for(rows[0]) if after is not None and rows else None,
    )
