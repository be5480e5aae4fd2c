"""The migration that dropped the unused `waiting` state: a row left in it is queued."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from playground.models import Generation

BEFORE = [("playground", "0011_real_providers")]
AFTER = [("playground", "0012_waiting_state_gone_fail_codes_choices")]


def test_a_generation_left_waiting_is_queued_for_the_sweeper_to_send(migrated_back, alice):
    OldGeneration = migrated_back.get_model("playground", "Generation")
    fields = {
        "owner_id": alice.pk,
        "team_id": alice.profile.team_id,
        "model_id": "kling-2-1",
        "model_name": "kling-2-1",
        "quoted_credits": "1.00",
        "deadline_at": timezone.now(),
    }
    waiting = OldGeneration.objects.create(state="waiting", **fields)
    running = OldGeneration.objects.create(state="generating", **fields)

    MigrationExecutor(connection).migrate(AFTER)

    queued = Generation.objects.get(pk=waiting.pk)
    assert queued.state == Generation.QUEUING
    assert queued.next_poll_at is not None and queued.next_poll_at <= timezone.now()
    assert Generation.objects.get(pk=running.pk).state == Generation.GENERATING
