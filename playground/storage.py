"""Removing stored files, whatever the media storage."""

import logging
from pathlib import Path, PurePosixPath

from django.core.files.storage import default_storage

log = logging.getLogger(__name__)


def delete_files(*names: str) -> None:
    """Delete the files and the folders they leave empty (best effort, logged)."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("could not delete %s", name, exc_info=True)
    for folder in {str(PurePosixPath(name).parent) for name in names}:
        # FileSystemStorage leaves generations/<token>/ and uploads/<token>/
        # behind; object storages have no folders, and no path() either.
        try:
            Path(default_storage.path(folder)).rmdir()
        except (NotImplementedError, OSError):
            pass
