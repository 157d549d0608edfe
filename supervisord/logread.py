"""Slicing log files the way Supervisor's log-reading RPCs do (python-supervisor.md §5.3).

Pure functions over a path, so the XML-RPC handlers, the REST API and the CLI agree on the odd offset rules
(negative offsets, "length 0 means to EOF", and the tail call that ignores a mid-file offset). Errors are
exceptions named after the XML-RPC fault they become.
"""

from __future__ import annotations

import os


class LogReadError(Exception):
    """Base: ``fault`` is the Supervisor fault name the caller should report."""

    fault = "FAILED"


class BadArguments(LogReadError):
    fault = "BAD_ARGUMENTS"


class NoFile(LogReadError):
    fault = "NO_FILE"


class Failed(LogReadError):
    fault = "FAILED"


def read_slice(path: str | None, offset: int, length: int) -> bytes:
    """Bytes of ``path`` selected by (offset, length) as readLog/readProcess*Log define them."""
    if not path or not os.path.exists(path):
        raise NoFile(path or "None")
    if length < 0 or (offset < 0 and length != 0):
        raise BadArguments()
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if offset < 0:
                start = max(0, size + offset)
                fh.seek(start)
                return fh.read()
            fh.seek(offset)
            return fh.read() if length == 0 else fh.read(length)
    except FileNotFoundError:
        raise NoFile(path) from None
    except OSError as exc:
        raise Failed(str(exc)) from None


def tail_slice(path: str | None, offset: int, length: int) -> tuple[bytes, int, bool]:
    """(data, new offset, overflow) for tailProcess*Log: the last ``length`` bytes unless caught up.

    A missing file reads as empty at offset 0, as in Supervisor; odd (negative) arguments are not errors
    here, they just clamp.
    """
    if not path or not os.path.exists(path):
        return b"", 0, False
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            overflow = False
            if size > offset + length:
                overflow = True
                offset = size - 1
            if offset + length > size:
                if offset > size - 1:
                    length = 0
                offset = size - length
            offset = max(offset, 0)
            length = max(length, 0)
            if length == 0:
                return b"", size, overflow
            fh.seek(offset)
            return fh.read(length), size, overflow
    except OSError:
        return b"", offset, False
