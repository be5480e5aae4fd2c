"""Removing stored files, whatever the media storage."""

import logging
from pathlib import Path, PurePosixPath

from django.core.files.storage import FileSystemStorage, default_storage

log = logging.getLogger(__name__)


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
