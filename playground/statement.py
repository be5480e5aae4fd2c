"""The wallet's history as a person reads it: one line per generation.

A generation leaves two ledger entries, its hold and then its capture or
release; a grant or an adjustment leaves one. A statement line is anchored
on the first entry of each (the hold, the grant), so a page of lines is a
page of anchors (one keyset walk), and the closing entries and the
generations of a page are read in one query each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from accounts.models import ZERO, LedgerEntry
from playground.models import Generation

GENERATION_REFERENCE = "generation:"
PROMPT_CHARS = 80


@dataclass
class Line:
    entry: LedgerEntry  # the anchor: a hold, a grant or an adjustment
    closing: LedgerEntry | None = None  # the hold's capture or release, once settled
    generation: Generation | None = None

    @property
    def task_id(self) -> str:
        reference = self.entry.reference
        return reference[len(GENERATION_REFERENCE) :] if self.is_generation else ""

    @property
    def is_generation(self) -> bool:
        return self.entry.reference.startswith(GENERATION_REFERENCE)

    @property
    def held(self) -> Decimal:
        return self.entry.held_change

    @property
    def outcome(self) -> str:
        """held, charged or released; for a grant or an adjustment, its kind."""
        if self.entry.kind != LedgerEntry.HOLD:
            return self.entry.kind
        if self.closing is None:
            return "held"
        return "charged" if self.closing.kind == LedgerEntry.CAPTURE else "released"

    @property
    def change(self) -> Decimal:
        """What the line did to the balance: the charge, or the grant's amount."""
        if self.entry.kind != LedgerEntry.HOLD:
            return self.entry.amount
        return self.closing.amount if self.closing is not None else ZERO

    @property
    def model(self) -> str:
        return self.generation.model_id if self.generation else ""

    @property
    def prompt(self) -> str:
        if self.generation is None:
            return ""
        prompt = str(self.generation.input.get("prompt", ""))
        return prompt if len(prompt) <= PROMPT_CHARS else prompt[: PROMPT_CHARS - 1] + "…"

    @property
    def entries(self) -> list[LedgerEntry]:
        return [self.entry] + ([self.closing] if self.closing else [])


def anchors(entries: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    """The entries that start a line: every kind but a hold's capture or release."""
    return entries.exclude(kind__in=[LedgerEntry.CAPTURE, LedgerEntry.RELEASE]).select_related(
        "member", "api_key"
    )


def lines(anchor_entries: Iterable[LedgerEntry], entries: QuerySet[LedgerEntry]) -> list[Line]:
    """The lines of `anchor_entries` (a page of them), with the closing entries
    read from `entries` (the wallet's) and their generations."""
    page = [Line(entry) for entry in anchor_entries]
    references = [line.entry.reference for line in page if line.is_generation]
    if not references:
        return page
    closings = {
        entry.reference: entry
        for entry in entries.filter(
            reference__in=references, kind__in=[LedgerEntry.CAPTURE, LedgerEntry.RELEASE]
        )
    }
    generations = {
        generation.task_id: generation
        for generation in Generation.objects.filter(
            task_id__in=[reference[len(GENERATION_REFERENCE) :] for reference in references]
        ).only("task_id", "model_id", "input")
    }
    for line in page:
        line.closing = closings.get(line.entry.reference)
        line.generation = generations.get(line.task_id)
    return page


def all_lines(entries: QuerySet[LedgerEntry], chunk: int = 500) -> Iterator[Line]:
    """Every line of `entries`, oldest first, read a chunk at a time (the CSV export)."""
    batch: list[LedgerEntry] = []
    for entry in anchors(entries).order_by("created_at", "pk").iterator(chunk_size=chunk):
        batch.append(entry)
        if len(batch) == chunk:
            yield from lines(batch, entries)
            batch = []
    yield from lines(batch, entries)
