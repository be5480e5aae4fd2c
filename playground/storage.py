"""Stored files, whatever the media storage: their absolute URLs, and removing them."""

import logging
from pathlib import Path, PurePosixPath

from django.core.files.storage import FileSystemStorage, default_storage

log = logging.getLogger(__name__)


def absolute_url(url: str, base_url: str) -> str:
    """A storage URL made absolute: object storage hands out absolute URLs
    already; the local media storage gives paths, served on `base_url`."""
    return url if url.startswith(("http://", "https://")) else base_url + url


def delete_files(*names: str) -> None:
    """Delete the files and the folders they leave empty (best effort, logged)."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("could not delete %s", name, exc_info=True)
    if not isinstance(default_storage, FileSystemStorage):
        return  # object storages have no folders to leave behind
    for folder in {str(PurePosixPath(name).parent) for name in names}:
        # The filesystem keeps generations/<token>/ and uploads/<token>/.
        try:
            Path(default_storage.path(folder)).rmdir()
        except OSError:  # not empty, or gone already
            pass
