"""Storing a finished video and its poster under MEDIA_ROOT at unguessable paths."""

import secrets
from pathlib import Path

import av
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from PIL import Image

from playground.models import Generation
from playground.outbound import fetch_to_file
from playground.providers.base import Succeeded

VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
POSTER_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


class ResultError(Exception):
    """The provider's result could not be read or copied."""


def store(generation: Generation, outcome: Succeeded, workdir: Path) -> dict:
    """Copy the result into storage; returns the Generation fields to save."""
    video = outcome.video_path
    if video is None:
        if not outcome.video_url:
            raise ResultError("the provider reported success without a video")
        # Upstream result URLs expire (an hour for some gateways): copy now,
        # streamed to disk. They come from an admin-configured provider, which
        # may well live on a private network.
        video = fetch_to_file(
            outcome.video_url,
            workdir / "result-video",
            max_bytes=settings.RESULT_MAX_MB * 1024 * 1024,
            allowed_types=VIDEO_TYPES,
            allow_private=True,
            headers=outcome.download_headers,
        ).path
    facts = probe(video)
    poster = outcome.poster_path
    if poster is None and outcome.poster_url:
        try:
            poster = fetch_to_file(
                outcome.poster_url,
                workdir / "result-poster",
                max_bytes=20 * 1024 * 1024,
                allowed_types=POSTER_TYPES,
                allow_private=True,
                headers=outcome.download_headers,
            ).path
        except Exception:  # a missing poster is not worth failing a paid video
            poster = None
    if poster is None:
        poster = first_frame_jpeg(video, workdir / "poster.jpg")

    folder = f"generations/{secrets.token_urlsafe(18)}"
    with open(video, "rb") as handle:
        video_name = default_storage.save(f"{folder}/{generation.task_id}.mp4", File(handle))
    with open(poster, "rb") as handle:
        poster_name = default_storage.save(
            f"{folder}/{generation.task_id}{_suffix(poster)}", File(handle)
        )
    return {
        "video": video_name,
        "poster": poster_name,
        "size_bytes": Path(video).stat().st_size,
        **facts,
    }


def probe(path: Path) -> dict:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ResultError("the result has no video stream")
            stream = container.streams.video[0]
            duration = (
                float(stream.duration * stream.time_base)
                if stream.duration
                else (container.duration or 0) / 1_000_000
            )
            return {
                "width": stream.codec_context.width,
                "height": stream.codec_context.height,
                "duration": round(duration, 3),
                "has_audio": bool(container.streams.audio),
            }
    except av.error.FFmpegError as exc:
        raise ResultError(f"the result is not a readable video: {exc}") from None


def first_frame_jpeg(video: Path, dest: Path) -> Path:
    with av.open(str(video)) as container:
        frame = next(container.decode(video=0))
        image = frame.to_image()
    image.thumbnail((1280, 1280), Image.Resampling.LANCZOS)
    image.save(dest, "JPEG", quality=85)
    return dest


def _suffix(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(b"\x89PNG"):
        return ".png"
    if head[8:12] == b"WEBP":
        return ".webp"
    return ".jpg"
