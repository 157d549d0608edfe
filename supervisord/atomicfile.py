"""Replace a file so that a reader (or a crash) only ever sees the old or the new whole content.

The new text goes to a temporary file in the same directory (same filesystem, so ``os.replace`` is atomic),
is flushed to disk, takes the old file's permission bits, then is renamed over the target. With ``backup``
the previous version is kept as ``<path>.bak`` first, so a bad edit can be undone by hand.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


def temp_beside(path: str, text: str) -> str:
    """Write ``text`` to a new temporary file next to ``path`` (flushed, old mode kept); return its name."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, os.stat(path).st_mode & 0o7777)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp


def commit(temp: str, path: str, *, backup: bool = False) -> None:
    """Rename ``temp`` (from :func:`temp_beside`) over ``path``, keeping ``path.bak`` first if asked."""
    try:
        if backup and os.path.exists(path):
            shutil.copy2(path, path + ".bak")
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def write_atomic(path: str, text: str, *, backup: bool = False) -> None:
    commit(temp_beside(path, text), path, backup=backup)
