"""Size-based log rotation shared by the child log sinks and the daemon's own log.

One rule for both: with backups, ``path`` becomes ``path.1`` and every ``path.N`` moves up one (the oldest
beyond ``backups`` is overwritten); with ``backups`` 0 the file is emptied in place. Only the writer of a
file rotates it, between two writes, so no byte is lost or written twice.
"""

from __future__ import annotations

import os


def write_all(fd: int, data: bytes | memoryview) -> None:
    """``write(2)`` until every byte is out (a pipe or a full disk can take a partial write)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def shift_backups(path: str, backups: int) -> None:
    """Rename ``path.N-1`` → ``path.N`` … ``path`` → ``path.1``; the caller has closed ``path``."""
    for n in range(backups - 1, 0, -1):
        src = f"{path}.{n}"
        if os.path.exists(src):
            os.replace(src, f"{path}.{n + 1}")
    if os.path.exists(path):
        os.replace(path, f"{path}.1")
