"""Keyset (cursor) pagination over (created_at, a unique key), newest first.

A page is "the N rows just older (or newer) than this row", so each page
costs one indexed range scan however deep it is: no OFFSET, which reads and
throws away every earlier row, and no COUNT(*) over the whole set.

`rows_beside` is the one walk every list uses; how a cursor looks on the
wire is each list's own (the pages' below, Replicate's `cursor`, OpenAI's
`after`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Model, Q, QuerySet


def rows_beside(
    queryset: QuerySet,
    anchor: tuple[datetime, Any] | None,
    *,
    size: int,
    newer: bool = False,
    key: str = "pk",
) -> tuple[list, bool]:
    """Up to `size` rows just older (or `newer`) than the `anchor` row's
    (created_at, key), in walking order (newest first when older), and
    whether more follow. No anchor: from the newest (or the oldest) row.

    One query: it fetches size + 1 rows and the extra one only says whether
    more follow.
    """
    if newer:
        ordered = queryset.order_by("created_at", key)
    else:
        ordered = queryset.order_by("-created_at", f"-{key}")
    if anchor is not None:
        created_at, value = anchor
        if newer:
            ordered = ordered.filter(
                # The plain bound lets the index range start at the anchor; the
                # OR alone is only a filter, applied to every row from the top.
                Q(created_at__gte=created_at),
                Q(created_at__gt=created_at) | Q(created_at=created_at, **{f"{key}__gt": value}),
            )
        else:
            ordered = ordered.filter(
                Q(created_at__lte=created_at),  # the index range bound (see above)
                Q(created_at__lt=created_at) | Q(created_at=created_at, **{f"{key}__lt": value}),
            )
    rows = list(ordered[: size + 1])
    return rows[:size], len(rows) > size


# -- the pages' cursors: an opaque (created_at, id) ---------------------------


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

    A malformed cursor gives the first page.
    """
    after = parse_cursor(older)
    before = parse_cursor(newer) if after is None else None
    if before is not None:
        rows, more_newer = rows_beside(queryset, before, size=size, newer=True)
        rows.reverse()
        if not rows:
            # Everything newer was deleted meanwhile: start from the top.
            return paginate(queryset, size=size)
        return Page(
            rows=rows,
            older=cursor_for(rows[-1]),
            newer=cursor_for(rows[0]) if more_newer else None,
        )
    rows, more_older = rows_beside(queryset, after, size=size)
    return Page(
        rows=rows,
        older=cursor_for(rows[-1]) if more_older else None,
        newer=cursor_for(rows[0]) if after is not None and rows else None,
    )
