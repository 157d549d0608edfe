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
    """Rename ``path.N-1`` → ``path.N`` … ``path`` → ``path.1``; the caller has closed ``path``.

    The oldest backup is removed first, as Supervisor does, so no rename replaces a file: on ext4 (its
    default ``auto_da_alloc``) a rename over an existing file forces the renamed file to disk at once,
    which made every rotation write the whole 50 MB backup out (and, mounted with ``discard``, discard it
    again when it aged out), a third of the log throughput on a disk.
    """
    oldest = f"{path}.{backups}"
    if backups > 0 and os.path.exists(oldest):
        os.remove(oldest)
    for n in range(backups - 1, 0, -1):
        src = f"{path}.{n}"
        if os.path.exists(src):
            os.rename(src, f"{path}.{n + 1}")
    if os.path.exists(path):
        os.rename(path, f"{path}.1")


class WriteHealth:
    """Turns a run of failed writes to one file into two messages: when it starts, and when it ends.

    Why: on a full disk every chunk fails, and a traceback per chunk (~130/s) floods whatever log still
    works, or the very disk that is full. The caller logs what :meth:`failed` and :meth:`succeeded` return
    (None means "nothing new to say") and drops the data; the count of lost bytes comes with the recovery.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.failing = False
        self.lost = 0

    def failed(self, nbytes: int, exc: OSError) -> str | None:
        self.lost += nbytes
        if self.failing:
            return None
        self.failing = True
        reason = exc.strerror or str(exc)
        return f"cannot write to {self.what}: {reason}; its output is dropped until writing works again"

    def succeeded(self) -> str | None:
        if not self.failing:
            return None
        lost, self.failing, self.lost = self.lost, False, 0
        return f"writing to {self.what} works again; {lost} bytes were lost"
