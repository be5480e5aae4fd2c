"""Keyset pagination: cursors and pages, without the views around them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from playground import keyset
from playground.models import Generation


def test_it_round_trips_a_cursor():
    generation = Generation(pk=42, created_at=timezone.now())
    assert keyset.parse_cursor(keyset.cursor_for(generation)) == (generation.created_at, 42)


@pytest.mark.parametrize("cursor", ["", "x", "bm90IGEgY3Vyc29y", "MjAyNi0wMS0wMXwx", "!!" * 200])
def test_it_ignores_malformed_cursors(cursor):
    # "MjAyNi0wMS0wMXwx" is "2026-01-01|1": a naive time is not one of ours.
    assert keyset.parse_cursor(cursor) is None


@pytest.mark.django_db
def test_it_pages_forward_and_back_over_ties(alice):
    rows = Generation.objects.bulk_create(
        Generation(owner=alice, team_id=alice.profile.team_id, model_id="kling/v2-1")
        for _ in range(7)
    )
    Generation.objects.filter(pk__in=[r.pk for r in rows[2:6]]).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    expected = list(Generation.objects.order_by("-created_at", "-pk"))
    everything = Generation.objects.all()

    first = keyset.paginate(everything, size=3)
    second = keyset.paginate(everything, size=3, older=first.older)
    third = keyset.paginate(everything, size=3, older=second.older)
    assert first.rows + second.rows + third.rows == expected
    assert (first.newer, third.older) == (None, None)
    assert keyset.paginate(everything, size=3, newer=third.newer).rows == second.rows
    assert keyset.paginate(everything, size=3, newer=second.newer).rows == first.rows
