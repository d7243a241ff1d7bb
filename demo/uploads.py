"""Recordings and uploads are people's voices: delete each one once it is analysed, and all on shutdown.

Gradio keeps every upload in its temp folder (`GRADIO_TEMP_DIR`). `Uploads.discard` deletes a file
there as soon as its audio has been decoded, except copies of the page's own example clips (recognised
by content). What is left (a trimmed recording, a stream chunk) goes with gradio's `delete_cache`
sweep and, because SIGTERM is turned into a normal shutdown, with gradio's clean-up on exit.
"""

import hashlib
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


class Uploads:
    """Deletes analysed files from gradio's upload folder; never touches anything else."""

    def __init__(self, keep: list[Path] = ()):
        self.keep = {(p.stat().st_size, _digest(p)) for p in map(Path, keep) if p.is_file()}

    def discard(self, path: str | os.PathLike | None) -> bool:
        """Delete `path` (and its folder when empty) if it is an upload; True if something was deleted."""
        if not path:
            return False
        path = Path(path).resolve()
        folder = upload_folder()
        if folder not in path.parents or not path.is_file():
            return False
        if self.keep and (path.stat().st_size, _digest(path)) in self.keep:
            return False  # the page's own example clip: other visitors use the same copy
        try:
            path.unlink()
            if path.parent != folder and not any(path.parent.iterdir()):
                path.parent.rmdir()
        except OSError as exc:  # already gone (two tabs, one file), or a folder that is filling again
            log.debug("could not delete %s: %s", path, exc)
        return True


def shutdown_on_sigterm() -> None:
    """Make SIGTERM stop the server like Ctrl-C, so gradio deletes its temp files on the way out."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
