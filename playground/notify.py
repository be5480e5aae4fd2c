"""What happens after a generation finishes: the hand-off to callback delivery."""

import logging

log = logging.getLogger(__name__)


def generation_finished(generation_id: int) -> None:
    """Called once, after the transaction that finished the generation commits."""
    log.debug("generation %s finished", generation_id)
