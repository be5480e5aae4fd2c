"""Workflows that span models: submitting, cancelling and deleting generations.

Every door (each API contract, the playground form) submits through
`submit()`: one validator, one price quote, one hold, one dispatch.
"""

import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import budgets, ledger
from accounts.keycache import KeyRecord
from accounts.models import ApiKey, CreditAccount
from playground import catalog, lifecycle, providers, queue, uploads
from playground.models import Generation, GenerationEvent
from playground.ops import logs, metrics
from playground.providers import routing
from playground.storage import delete_files

log = logging.getLogger(__name__)
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


class ModelUnavailable(Exception):
    """No enabled provider serves the model: it cannot be generated now."""


class TooManyUnfinished(Exception):
    """The API key, the member or the team has as many generations unfinished as
    its limit allows (API_MAX_UNFINISHED_TASKS, _PER_MEMBER, _PER_TEAM)."""

    def __init__(self, limit: int, holder: str = "API key"):
        super().__init__(f"Too many unfinished tasks: {limit} allowed for this {holder}.")
        self.limit = limit
        self.holder = holder


def to_pollers(first) -> bool:
    """Whether the pollers, not a worker, submit a generation whose first provider is `first`."""
    return bool(settings.POLLERS) and providers.provider_class(first.kind).submits_from_poller


def request_fingerprint(*parts) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit(
    *,
    user,
    model: str,
    input: dict,
    source: str = Generation.SOURCE_API,
    contract: str = "jobs",
    api_key: ApiKey | KeyRecord | None = None,
    callback_url: str = "",
    base_url: str = "",
    request: dict | None = None,
    idempotency_key: str = "",
    remixed_from: Generation | None = None,
) -> Generation:
    """Validate, quote, hold the credits and queue a generation, in one transaction.

    Raises catalog.UnknownModel / catalog.ValidationFailed for bad input,
    ledger.InsufficientCredits when the quote exceeds the available credits
    (nothing is created or held), TooManyUnfinished when the API key has
    API_MAX_UNFINISHED_TASKS generations unfinished already (nothing is
    created or held), budgets.BudgetExceeded when it would take the member's
    or the key's spending past its budget (nothing created or held),
    IdempotencyConflict when the key was used with another request. With an
    Idempotency-Key seen before for the same request, returns the original
    generation and creates nothing.

    `api_key` is the key the request came with: its row, or the record the
    API keeps of it (accounts/keycache.py); only its id is used.
    """
    fingerprint = request_fingerprint(contract, model, input, callback_url)
    if idempotency_key and api_key is not None:
        earlier = _replay(api_key, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier

    spec = catalog.get_spec(model)
    normalized = catalog.validate(spec.id, input)
    price = catalog.quote(spec.id, normalized)
    routed = providers.route(spec.id, max_age=routing.SNAPSHOT_SECONDS)
    if not routed:
        raise ModelUnavailable(f"No provider is enabled for {spec.id}; ask an admin to enable one.")
    owner_id, team_id, account_id = _payer(user, api_key)
    now = timezone.now()
    render = providers.renders(routed[0])
    try:
        with transaction.atomic():
            generation = Generation.objects.create(
                owner_id=owner_id,
                team_id=team_id,
                api_key_id=api_key.id if api_key is not None else None,
                source=source,
                contract=contract,
                model_id=spec.id,
                model_name=model,
                input=normalized,
                request=request if request is not None else {"model": model, "input": input},
                remixed_from=remixed_from,
                quoted_credits=price.credits,
                price_breakdown=price.breakdown[:200],
                callback_url=callback_url,
                base_url=base_url[:200],
                idempotency_key=idempotency_key if api_key is not None else "",
                request_hash=fingerprint,
                deadline_at=now + timedelta(seconds=spec.timeout_seconds),
                # Handed to the queue when this transaction commits; should that
                # hand-off be lost, the sweeper sends it again at next_poll_at.
                state=Generation.QUEUING,
                # The pollers submit it when its first provider is an upstream
                # they can drive; otherwise a worker, sent at commit. A render
                # names its renderer: the render queue takes it by team turn.
                provider=routed[0] if to_pollers(routed[0]) or render else None,
                next_poll_at=now if to_pollers(routed[0]) else queue.redispatch_at(now),
            )
            GenerationEvent.objects.create(
                generation=generation, to_state=Generation.QUEUING, note=price.breakdown[:2000]
            )
            uploads.mark_used(normalized)
            # Last: it locks the account's row until the commit.
            ledger.hold(
                account_id,
                price.credits,
                generation.hold_reference,
                note=f"generation {generation.task_id}",
                member_id=owner_id,
                api_key_id=generation.api_key_id,
            )
            _check_unfinished(api_key, owner_id, team_id)
            budgets.refuse_over_budget(team_id, owner_id, generation.api_key_id, price.credits)
            # Counted before the dispatch's hand-off: a queue that is down
            # when it runs loses no count (the sweeper sends the task later).
            metrics.generation_created(spec.id, contract, price.credits)
            if not to_pollers(routed[0]):
                queue.dispatch_run(generation.pk, render=render)
    except IntegrityError:
        # Two requests with one Idempotency-Key raced; the other one won.
        if idempotency_key and api_key is not None:
            earlier = _replay(api_key, idempotency_key, fingerprint)
            if earlier is not None:
                return earlier
        raise
    with logs.task(generation.task_id):
        log.info(
            "generation %s accepted: %s, %s credits held",
            generation.task_id,
            spec.id,
            price.credits,
        )
    return generation


def _payer(user, api_key: ApiKey | KeyRecord | None) -> tuple[int, int, int]:
    """The ids of the generation's owner, their team and the team's wallet, which pays.

    On the API the key's record holds all three (accounts/keycache.py), so a
    create reads no user, profile or wallet row; `user` is then that key's
    user and is not read at all.
    """
    if isinstance(api_key, KeyRecord):
        return api_key.user_id, api_key.team_id, api_key.account_id
    team_id = user.profile.team_id
    return user.pk, team_id, CreditAccount.objects.values_list("pk", flat=True).get(team_id=team_id)


def _check_unfinished(api_key: ApiKey | KeyRecord | None, owner_id: int, team_id: int) -> None:
    """Refuse the generation just inserted when it takes its API key, its member
    or its team past their limit of unfinished generations.

    Called after the hold, under the lock of the wallet's row that the
    hold's UPDATE took: every create of a team holds on the team's one
    wallet, so the creates of a key, a member and a team pass here one at a
    time. On PostgreSQL a create that waited for the lock counts with a new
    snapshot (READ COMMITTED: per statement), which holds the rows the
    creates before it committed; on SQLite the IMMEDIATE transaction
    serialises writers from its start. Counted without the lock, two racing
    creates could both see room (the count-then-insert race).
    """
    if api_key is not None:
        _refuse_past(
            Generation.objects.filter(api_key_id=api_key.id),
            settings.API_MAX_UNFINISHED_TASKS,
            "API key",
        )
    # A member's and a team's rows are read through the gen_team_state index
    # (team, state): at most the team's unfinished rows.
    team_unfinished = Generation.objects.filter(team_id=team_id)
    if settings.API_MAX_UNFINISHED_PER_MEMBER:
        _refuse_past(
            team_unfinished.filter(owner_id=owner_id),
            settings.API_MAX_UNFINISHED_PER_MEMBER,
            "member",
        )
    if settings.API_MAX_UNFINISHED_PER_TEAM:
        _refuse_past(team_unfinished, settings.API_MAX_UNFINISHED_PER_TEAM, "team")


def _refuse_past(generations, limit: int, holder: str) -> None:
    # The new generation is among the rows, so one row past the limit is one
    # too many: the database walks an index up to that row and no further
    # (OFFSET limit, LIMIT 1, no ORDER BY); for a key, the partial index
    # gen_key_unfinished, which holds exactly its unfinished rows.
    unfinished = generations.filter(state__in=Generation.UNFINISHED).order_by()
    if unfinished[limit:].exists():
        raise TooManyUnfinished(limit, holder)


def _replay(
    api_key: ApiKey | KeyRecord, idempotency_key: str, fingerprint: str
) -> Generation | None:
    earlier = Generation.objects.filter(
        api_key_id=api_key.id, idempotency_key=idempotency_key
    ).first()
    if earlier is None:
        return None
    if earlier.created_at < timezone.now() - IDEMPOTENCY_WINDOW:
        # Expired: free the key for this new request.
        Generation.objects.filter(pk=earlier.pk).update(idempotency_key="")
        return None
    if earlier.request_hash != fingerprint:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body."
        )
    return earlier


def cancel(generation: Generation) -> bool:
    """Stop an unfinished generation: it fails with CANCELLED and nothing is charged."""
    cancelled = lifecycle.fail(
        generation.pk, Generation.FailCode.CANCELLED, "Cancelled by the user."
    )
    if cancelled and generation.provider_id and generation.upstream_ref:
        try:
            providers.for_row(generation.provider).cancel(generation)
        except Exception:  # best effort: our side is already settled
            log.warning("could not cancel %s upstream", generation.task_id, exc_info=True)
    return cancelled


def delete(generation: Generation) -> bool:
    """Remove a finished generation's files; the row stays, marked deleted, as the
    record of what was made and charged (its ledger entries are untouched).

    False: it is unfinished, or already deleted (a concurrent delete lost).
    """
    names = [file.name for file in (generation.video, generation.poster) if file]
    if not lifecycle.soft_delete(generation.pk):
        return False
    # After the row no longer names them: a failed removal leaves an orphan
    # file, never a row pointing at nothing.
    delete_files(*names)
    return True
