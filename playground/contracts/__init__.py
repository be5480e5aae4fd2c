"""The public contracts, one wire module each; no views here (playground/api/ has them).

    jobs.py                createTask / recordInfo / cancel / credits (seeds 000, 001, 003)
    video_generations.py   /video/generations (seed 002)
    generate_task.py       /generateTask/{model} + /statusTask/{model} (seed 004)
    openai.py              /v1/videos, what the `openai` SDK speaks
    replicate.py           /v1/predictions and /v1/files, what the `replicate` client speaks

Each holds its state words, how it reads a create request into a Submission
(model, input and the rest), how it renders a Generation (status object,
callback or webhook body), its error envelope and its OpenAPI paths().
errors.py, wire.py and openapi.py hold what they share.

`callback_body` and `start_body` below describe a generation in the words of
the contract that created it; webhook delivery sends them.
"""

from types import ModuleType

from playground.contracts import generate_task, jobs, openai, replicate, video_generations

CONTRACTS: dict[str, ModuleType] = {
    jobs.NAME: jobs,
    video_generations.NAME: video_generations,
    generate_task.NAME: generate_task,
    # The playground speaks no API; its generations are described as jobs.
    "playground": jobs,
    # OpenAI's contract has no callbacks (its tasks never carry a URL); its
    # generations are described as jobs wherever a callback body is asked for.
    openai.NAME: jobs,
    # Its webhook is the task's callback: the prediction object, at start and finish.
    replicate.NAME: replicate,
}


def callback_body(generation) -> dict | None:
    """The body POSTed to the callback URL when the generation finishes; None: send nothing."""
    return CONTRACTS.get(generation.contract, jobs).callback_body(generation)


def start_body(generation) -> dict | None:
    """The body POSTed when the generation starts, for contracts that send one."""
    start = getattr(CONTRACTS.get(generation.contract, jobs), "start_body", None)
    return start(generation) if start is not None else None
