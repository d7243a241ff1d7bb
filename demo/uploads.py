"""Recordings and uploads are people's voices: delete each one once it is analysed, and all on shutdown.

Gradio keeps every upload in its temp folder (`GRADIO_TEMP_DIR`). `Uploads.discard` deletes a file
there once its audio has been decoded and `grace` seconds have passed both since then and since the file
was last written: gradio stores identical uploads at one path, so another request for the same content
may have uploaded it again and still be waiting to read it. Copies of the page's own example clips
(recognised by content) are never deleted. What is left (a trimmed recording, a stream chunk the live
step never saw) goes with gradio's `delete_cache` sweep, and on SIGTERM with every file gradio stored
for the page (`shutdown_on_sigterm`).
"""

import contextlib
import hashlib
import logging
import os
import signal
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seconds_since_written(path: Path) -> float | None:
    """Wall-clock seconds since `path` was last written (None if it is gone).

    Gradio writes each upload to a new temporary file and renames it into place, so this is the time
    since the latest upload of that content.
    """
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


GRACE_SECONDS = float(os.environ.get("AGEGENDER_UPLOAD_GRACE", "30"))


class Uploads:
    """Deletes analysed files from gradio's upload folder; never touches anything else."""

    def __init__(self, keep: list[Path] = (), grace: float = GRACE_SECONDS):
        self.keep = {(p.stat().st_size, _digest(p)) for p in map(Path, keep) if p.is_file()}
        self.grace = grace
        self.due: dict[Path, float] = {}  # path -> when to delete it
        self.lock = threading.Lock()
        self.sweeper: threading.Thread | None = None

    def discard(self, path: str | os.PathLike | None) -> bool:
        """Delete `path` in `grace` seconds if it is an upload; True if it will be."""
        if not path:
            return False
        path = Path(path).resolve()
        if upload_folder() not in path.parents or not path.is_file():
            return False
        if self._is_kept(path):
            return False  # the page's own example clip: other visitors use the same copy
        with self.lock:
            self.due[path] = time.monotonic() + self.grace
            if self.sweeper is None and self.grace > 0:
                self.sweeper = threading.Thread(target=self._sweep_forever, name="uploads", daemon=True)
                self.sweeper.start()
        if self.grace <= 0:
            self.sweep()
        return True

    def _is_kept(self, path: Path) -> bool:
        """A copy of a kept file: hashed only when its size matches one (most uploads are not)."""
        size = path.stat().st_size
        return any(size == s for s, _ in self.keep) and (size, _digest(path)) in self.keep

    def sweep(self, now: float | None = None) -> None:
        """Delete every file whose time has come; one uploaded again since gets `grace` more seconds."""
        now = time.monotonic() if now is None else now
        with self.lock:
            ready = [p for p, t in self.due.items() if t <= now]
            for p in ready:
                del self.due[p]
                age = _seconds_since_written(p)
                if age is not None and age < self.grace:
                    self.due[p] = now + self.grace - age
        for p in ready:
            if p not in self.due:
                self._delete(p)

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(max(0.5, min(5.0, self.grace / 4)))
            self.sweep()

    def _delete(self, path: Path) -> None:
        """Delete `path`. Its folder (named by the content's hash) stays: gradio creates it and then moves
        a new upload of the same content into it, so removing it could fail that upload."""
        try:
            path.unlink()
        except OSError as exc:  # already gone
            log.debug("could not delete %s: %s", path, exc)


def shutdown_on_sigterm(page) -> None:
    """On SIGTERM, stop `page` (a launched `gr.Blocks`) and delete every file gradio stored for it.

    Gradio deletes its files itself once its server has finished, but the server first waits for open
    connections (an event stream can take 10 s to notice) and `close` waits only 5 s for it: the files
    (uploads and stream chunks included) are deleted here as gradio would, with the folders left empty.
    """
    from gradio.route_utils import delete_files_created_by_app

    def folders() -> set[Path]:
        return {Path(name).parent for files in page.temp_file_sets for name in files} - {upload_folder()}

    def stop(signum, frame):
        if not page.is_running:  # not serving yet: stop like Ctrl-C
            raise KeyboardInterrupt
        before = folders()  # the server may finish and delete its files itself while it closes
        page.close()
        left = before | folders()
        delete_files_created_by_app(page, age=None)
        for folder in left:
            with contextlib.suppress(OSError):  # not empty: another app's file or an upload still arriving
                folder.rmdir()

    signal.signal(signal.SIGTERM, stop)
