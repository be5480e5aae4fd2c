"""The local renderer as a provider: offline previews made on this machine."""

from pathlib import Path

from playground import catalog
from playground.inputs import InputError, localize
from playground.models import Generation
from playground.providers import localrender
from playground.providers.base import (
    BaseProvider,
    Failed,
    LeaseLost,
    Outcome,
    ProgressFn,
    Succeeded,
)


class LocalRenderer(BaseProvider):
    kind = "local"
    renders = True

    def start(self, generation: Generation, workdir: Path, progress: ProgressFn) -> Outcome:
        params = catalog.get_spec(generation.model_id).render_params(generation.input)
        try:
            images = [
                localize(url, workdir / f"input-{n}", kind="image")
                for n, url in enumerate(params["images"][:2])
            ]
            motion = (
                localize(params["motion_video"], workdir / "motion", kind="video")
                if params.get("motion_video")
                else None
            )
        except InputError as exc:
            return Failed(Generation.FailCode.INVALID_IMAGE_URL, str(exc))

        def on_progress(percent: int) -> None:
            if not progress(percent):
                raise LeaseLost(generation.task_id)

        try:
            width, height = localrender.frame_size(params["aspect_ratio"], params["resolution"])
            request = localrender.RenderRequest(
                width=width,
                height=height,
                duration=float(params["duration"]),
                prompt=params["prompt"],
                seed=int(params.get("seed") or 0),
                audio=bool(params["audio"]),
                start_image=images[0] if images else None,
                end_image=images[1] if len(images) > 1 else None,
                motion_video=motion,
            )
            result = localrender.render(request, workdir, on_progress=on_progress)
        except localrender.RenderError as exc:
            code = (
                Generation.FailCode.INVALID_IMAGE_URL
                if images or motion
                else Generation.FailCode.INTERNAL_ERROR
            )
            return Failed(code, str(exc))
        return Succeeded(video_path=result.video_path, poster_path=result.poster_path)

    def poll(self, generation: Generation, workdir: Path | None = None) -> Outcome:
        # start() finishes the work; a local generation is never left to poll.
        return Failed(Generation.FailCode.INTERNAL_ERROR, "the local renderer has nothing to poll")
