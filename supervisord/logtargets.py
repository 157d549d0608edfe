"""Where a child's output goes: files (with rotation and AUTO names), the daemon's own fds, and syslog.

Each target takes whole chunks and does the I/O for one destination; the log sink actor owns a list of them
per channel. Nothing here knows about actors, so every target is unit-testable on its own.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import glob
import gzip
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from typing import TYPE_CHECKING, TypeAlias

from supervisord import logwatch
from supervisord.config.model import ProcessConfig
from supervisord.rotation import WriteHealth, shift_backups, write_all
from supervisord.runtime.outlet import stdio

if TYPE_CHECKING:
    from supervisord.syslog import SyslogTarget

log = logging.getLogger("supervisord")

# --- AUTO log files ---


def auto_log_path(config: ProcessConfig, channel: str, childlogdir: str, identifier: str) -> str:
    """Create Supervisor's AUTO log file ``<name>-<channel>---<identifier>-<random>.log``."""
    fd, path = tempfile.mkstemp(
        prefix=f"{config.name}-{channel}---{identifier}-", suffix=".log", dir=childlogdir
    )
    os.close(fd)
    return path


def clear_auto_logs(childlogdir: str, identifier: str) -> list[str]:
    """Remove stale AUTO logs of this ``identifier`` (Supervisor's start-up cleanup); returns what went.

    Supervisor's pattern is ``.+?---<identifier>-\\S+\\.log\\.{0,1}\\d{0,4}``: the files *and* their rotated
    backups, but only this daemon's identifier, so two daemons can share a childlogdir.
    """
    pattern = re.compile(rf".+?---{re.escape(identifier)}-\S+\.log\.?\d{{0,4}}(\.gz)?$")
    removed = []
    for path in glob.glob(os.path.join(glob.escape(childlogdir), "*---*")):
        if pattern.match(os.path.basename(path)) and os.path.isfile(path):
            with contextlib.suppress(OSError):
                os.remove(path)
                removed.append(path)
    return removed


# --- destinations ---

# The last MiB before ``maxbytes`` goes through read() and write(), not splice(): cutting a file after its
# last whole line needs the bytes in hand.
SPLICE_MARGIN = 1 << 20
SPLICE_FLAGS = os.SPLICE_F_NONBLOCK | os.SPLICE_F_MOVE

# Log files this daemon has open, by path: splice() writes at a position (it refuses O_APPEND), which is
# safe only while one FileTarget writes the file (stdout and stderr to one file, or two programs sharing
# one, keep appending).
_open_files: dict[str, int] = {}
_open_lock = threading.Lock()


class FileTarget:
    """An append-mode file rotated by size into ``.1`` … ``.backups`` (``backups`` 0: truncate).

    A chunk that would cross ``maxbytes`` is cut after its last complete line that fits, so every file
    holds whole lines and at most ``maxbytes`` bytes (unless one line alone is longer). Only this actor
    writes the file, so a rename-based rotation can neither lose nor repeat a byte.

    The file is opened on the first write (or :meth:`open_quietly` when the child spawns) and may be
    closed between two lives of the child, so a configured process costs no descriptor until it runs.
    A write that fails (a full disk) drops the chunk and is reported once, not once per chunk.

    Every write, rotation, truncation and reopen is announced to the file's followers (``logwatch``), so a
    ``tail -f`` sleeps until there is something to read.
    """

    # Slots and a health record made on the first failure only: a daemon keeps two of these per program.
    __slots__ = (
        "appending",
        "auto",
        "backups",
        "compressor",
        "fd",
        "health",
        "maxbytes",
        "path",
        "rotate_at",
        "rotate_every",
        "size",
        "spliceable",
        "watch_key",
    )

    def __init__(
        self,
        path: str,
        maxbytes: int,
        backups: int,
        *,
        auto: bool = False,
        compress: bool = False,
        rotate_every: str | None = None,
    ) -> None:
        self.path = path
        self.maxbytes = maxbytes
        self.backups = backups
        self.auto = auto
        # stdout_logfile_compress = gzip: rotated copies are NAME.N.gz, compressed off the sink's thread.
        self.compressor = Compressor(path) if compress and backups > 0 else None
        self.rotate_every = rotate_every  # "hourly" | "daily": also rotate at that clock boundary
        self.rotate_at = next_boundary(rotate_every, time.time()) if rotate_every else 0.0
        self.fd = -1
        self.size = 0
        self.appending = True  # the fd has O_APPEND (cleared while splicing, set again for write())
        self.health: WriteHealth | None = None
        self.watch_key = logwatch.key(path)
        self.spliceable = True  # False once splice() failed here (a file system without it): read path

    def open(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        self.appending = True
        with _open_lock:
            _open_files[self.watch_key] = _open_files.get(self.watch_key, 0) + 1
        self.size = os.fstat(self.fd).st_size

    def _close_fd(self) -> None:
        os.close(self.fd)
        self.fd = -1
        with _open_lock:
            left = _open_files.get(self.watch_key, 1) - 1
            if left > 0:
                _open_files[self.watch_key] = left
            else:
                _open_files.pop(self.watch_key, None)

    def _append(self, on: bool) -> None:
        """Switch the fd's O_APPEND: off for splice(), which refuses it, on again for write()."""
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags | os.O_APPEND if on else flags & ~os.O_APPEND)
        self.appending = on

    def open_quietly(self) -> None:
        """Open now (the child spawned: Supervisor creates its log file then); a failure is reported once."""
        if self.fd < 0:
            try:
                self.open()
            except OSError as exc:
                self._failed(0, exc)

    def write(self, data: bytes) -> None:
        try:
            if self.fd < 0:
                self.open()
            elif not self.appending:
                self._append(True)
            self._write(data)
        except OSError as exc:
            self._failed(len(data), exc)
            return
        logwatch.changed(self.watch_key)
        if self.health is not None and self.health.failing:
            self._report(self.health.succeeded())

    def move_from(self, pipe: int, limit: int) -> int | None:
        """Move up to ``limit`` bytes from the non-blocking ``pipe`` into the file: the count, 0 at EOF, or
        None when the pipe is empty for now.

        The bytes go by ``splice(2)``, pipe to file inside the kernel: one copy instead of a read and a
        write, and no Python object. Within :data:`SPLICE_MARGIN` of ``maxbytes``, at a clock rotation, and
        where splice fails, they are read and handed to :meth:`write` like a chunk, which cuts and rotates
        after a whole line and reports failed writes. (So a line longer than the margin may be split at a
        rotation, as one longer than ``maxbytes`` always is.)
        """
        room = self.maxbytes - self.size - SPLICE_MARGIN if self.maxbytes else limit
        due = self.rotate_at and time.time() >= self.rotate_at
        if self.spliceable and room > 0 and not due and self._alone():
            try:
                if self.appending:
                    self._append(False)
                os.lseek(self.fd, 0, os.SEEK_END)  # at the end, even after a copytruncate
                moved = os.splice(pipe, self.fd, min(limit, room), flags=SPLICE_FLAGS)
            except BlockingIOError:
                return None
            except OSError as exc:
                log.info("log file %s: splice failed (%s), writing through reads", self.path, exc)
                self.spliceable = False
            else:
                if moved:
                    self.size += moved
                    logwatch.changed(self.watch_key)
                return moved
        try:
            data = os.read(pipe, limit)
        except BlockingIOError:
            return None
        if data:
            self.write(data)
        return len(data)

    def _alone(self) -> bool:
        """Open, and the only FileTarget of this daemon with this file open (else: append, never splice)."""
        if self.fd < 0:
            try:
                self.open()
            except OSError:
                return False  # the read path reports it
        return _open_files.get(self.watch_key, 0) == 1

    def _failed(self, nbytes: int, exc: OSError) -> None:
        if self.health is None:
            self.health = WriteHealth(f"log file {self.path}")
        self._report(self.health.failed(nbytes, exc))

    @staticmethod
    def _report(message: str | None) -> None:
        if message is not None:
            log.warning(message)

    def _write(self, data: bytes) -> None:
        if self.rotate_at and time.time() >= self.rotate_at:
            self.rotate_at = next_boundary(self.rotate_every, time.time())
            if self.size > 0:
                self.rotate()
        maxbytes = self.maxbytes
        if not maxbytes or self.size + len(data) < maxbytes:
            write_all(self.fd, data)
            self.size += len(data)
            return
        start, end = 0, len(data)
        view = memoryview(data)
        while start < end:
            room = maxbytes - self.size
            if end - start < room:
                write_all(self.fd, view[start:])
                self.size += end - start
                return
            cut = data.rfind(b"\n", start, start + room) + 1
            if cut == 0:
                if self.size > 0:
                    self.rotate()  # the next line does not fit: start it in a fresh file
                    continue
                cut = start + room  # one line longer than maxbytes: split it
            write_all(self.fd, view[start:cut])
            self.size += cut - start
            start = cut
            self.rotate()

    def rotate(self) -> None:
        if self.backups <= 0:
            os.ftruncate(self.fd, 0)  # O_APPEND (or the seek before a splice): the next write lands at 0
            self.size = 0
            return
        self._close_fd()
        if self.compressor is not None:
            self.compressor.rotate(self.backups)
        else:
            shift_backups(self.path, self.backups)
        self.open()

    def reopen(self) -> None:
        """SIGUSR2: the file may have been moved (logrotate) or truncated (copytruncate)."""
        if self.fd >= 0:
            self.close()
            self.open()
        logwatch.changed(self.watch_key)  # a follower checks for a truncation or a new file

    def clear(self) -> None:
        """clearProcessLogs: remove the file and start an empty one (backups stay, as in Supervisor)."""
        was_open = self.fd >= 0
        self.close()
        with contextlib.suppress(OSError):
            os.remove(self.path)
        self.open()
        if not was_open:
            self.close()
        logwatch.changed(self.watch_key)

    def close(self) -> None:
        if self.fd >= 0:
            self._close_fd()
        if self.compressor is not None:
            self.compressor.wait()

    def remove(self) -> None:
        """Delete the file and its backups (AUTO logs at shutdown)."""
        self.close()
        suffix = ".gz" if self.compressor is not None else ""
        for path in [self.path] + [f"{self.path}.{n}{suffix}" for n in range(1, self.backups + 1)]:
            with contextlib.suppress(OSError):
                os.remove(path)


def next_boundary(every: str | None, now: float) -> float:
    """The next start of a local hour (``hourly``) or day (``daily``) after ``now``."""
    local = datetime.datetime.fromtimestamp(now).astimezone()
    if every == "daily":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0) + datetime.timedelta(days=1)
    else:
        start = local.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    # Re-resolve in local time: a DST change between now and the boundary moves the offset.
    return start.replace(tzinfo=None).astimezone().timestamp()


class Compressor:
    """Rotation into ``NAME.1.gz`` … with the gzip work on a short-lived thread of its own.

    The sink only renames (``NAME`` → ``NAME.1``, instant) and goes on writing the new file; the thread
    compresses ``NAME.1`` into ``NAME.1.gz.tmp``, renames it to ``NAME.1.gz`` and removes ``NAME.1``. A
    next rotation first waits for the previous compression (normally long finished), so the shift never
    meets a half-written copy; a rotation faster than gzip just slows the sink, and the pipe's flow
    control holds the child, so no line is lost.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.thread: threading.Thread | None = None

    def rotate(self, backups: int) -> None:
        self.wait()
        path = self.path
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}.{backups}.gz")  # first, so that no rename replaces a file (see shift_backups)
        for n in range(backups - 1, 0, -1):
            src = f"{path}.{n}.gz"
            if os.path.exists(src):
                os.rename(src, f"{path}.{n + 1}.gz")
        if not os.path.exists(path):
            return
        os.replace(path, f"{path}.1")
        self.thread = threading.Thread(
            target=self._compress, args=(f"{path}.1",), name="log-gzip", daemon=True
        )
        self.thread.start()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    @staticmethod
    def _compress(src: str) -> None:
        tmp = f"{src}.gz.tmp"
        try:
            with open(src, "rb") as raw, gzip.open(tmp, "wb", compresslevel=6) as packed:
                shutil.copyfileobj(raw, packed, 1 << 20)
            os.replace(tmp, f"{src}.gz")
            os.remove(src)
        except OSError as exc:  # the uncompressed NAME.1 stays: nothing is lost
            log.error("cannot compress rotated log %s: %s", src, exc)
            with contextlib.suppress(OSError):
                os.remove(tmp)


class FdTarget:
    """The daemon's own stdout or stderr, through its shared outlet: never blocks the sink.

    A copy to a stdout nobody reads is dropped whole once the outlet's queue is full, and counted (the
    count reaches the main log once the reader catches up); a stdout that is gone takes nothing more.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.outlet = stdio(fd)

    def write(self, data: bytes) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.outlet.write(data)

    def reopen(self) -> None:
        pass

    def clear(self) -> None:
        pass

    def close(self) -> None:
        pass


Target: TypeAlias = "FileTarget | FdTarget | SyslogTarget"
