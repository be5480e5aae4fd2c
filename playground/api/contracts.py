"""Contract name (Generation.contract) → the module that speaks it.

Callbacks use it to describe a finished generation in the words of the
contract that created it.
"""

from types import ModuleType

from playground.api import (
    generate_task,
    jobs,
    openai_videos,
    replicate_predictions,
    video_generations,
)

CONTRACTS: dict[str, ModuleType] = {
    jobs.NAME: jobs,
    video_generations.NAME: video_generations,
    generate_task.NAME: generate_task,
    # The playground speaks no API; its generations are described as jobs.
    "playground": jobs,
    # OpenAI's contract has no callbacks (its tasks never carry a URL); its
    # generations are described as jobs wherever a callback body is asked for.
    openai_videos.NAME: jobs,
    # Its webhook is the task's callback: the prediction object, at start and finish.
    replicate_predictions.NAME: replicate_predictions,
}


def callback_body(generation) -> dict | None:
    """The body POSTed to the callback URL when the generation finishes; None: send nothing."""
    return CONTRACTS.get(generation.contract, jobs).callback_body(generation)


def start_body(generation) -> dict | None:
    """The body POSTed when the generation starts, for contracts that send one."""
    start = getattr(CONTRACTS.get(generation.contract, jobs), "start_body", None)
    return start(generation) if start is not None else None
