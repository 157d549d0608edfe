"""A log sink actor: one per child output channel; writes every chunk to that channel's destinations.

The I/O loop tells the sink each chunk it reads (up to 1 MiB), so a chatty child never blocks on us and the
process actor never touches its output. Files are opened in append mode, like Supervisor, and rotated by
size (``maxbytes``/``backups``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from supervisord.config.model import LogKind, ProcessConfig, StreamLogConfig
from supervisord.runtime.hubsafe import HubSafeActor


def auto_log_path(config: ProcessConfig, channel: str, childlogdir: str, identifier: str) -> str:
    """Create Supervisor's AUTO log file ``<name>-<channel>---<identifier>-<random>.log``."""
    fd, path = tempfile.mkstemp(
        prefix=f"{config.name}-{channel}---{identifier}-", suffix=".log", dir=childlogdir
    )
    os.close(fd)
    return path


@dataclass(frozen=True)
class Chunk:
    data: bytes


@dataclass(frozen=True)
class Reopen:
    pass


class _FileTarget:
    """An append-mode file rotated at ``maxbytes`` into ``.1`` … ``.backups``."""

    def __init__(self, path: str, maxbytes: int, backups: int) -> None:
        self.path = path
        self.maxbytes = maxbytes
        self.backups = backups
        self.stream: BinaryIO = open(path, "ab", buffering=0)  # noqa: SIM115 - owned for the sink's life
        self.size = self.stream.tell()

    def write(self, data: bytes) -> None:
        self.stream.write(data)
        self.size += len(data)
        if self.maxbytes and self.size >= self.maxbytes:
            self.rotate()

    def rotate(self) -> None:
        self.stream.close()
        if self.backups > 0:
            for n in range(self.backups - 1, 0, -1):
                src = f"{self.path}.{n}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{n + 1}")
            os.replace(self.path, f"{self.path}.1")
            self.stream = open(self.path, "ab", buffering=0)  # noqa: SIM115
        else:
            self.stream = open(self.path, "wb", buffering=0)  # noqa: SIM115
        self.size = 0

    def reopen(self) -> None:
        self.stream.close()
        self.stream = open(self.path, "ab", buffering=0)  # noqa: SIM115
        self.size = self.stream.tell()

    def close(self) -> None:
        self.stream.close()


class _StreamTarget:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data)
        self.stream.flush()

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


class LogSinkActor(HubSafeActor):
    """Writes one channel of one process to its configured destinations."""

    def __init__(self, stream: StreamLogConfig, auto_path: str | None) -> None:
        super().__init__()
        self.stream_config = stream
        self.auto_path = auto_path
        self.targets: list[_FileTarget | _StreamTarget] = []

    def on_start(self) -> None:
        cfg = self.stream_config
        for dest in cfg.destinations:
            if dest.kind is LogKind.FILE and dest.path:
                self.targets.append(_FileTarget(dest.path, cfg.maxbytes, cfg.backups))
            elif dest.kind is LogKind.AUTO and self.auto_path:
                self.targets.append(_FileTarget(self.auto_path, cfg.maxbytes, cfg.backups))
            elif dest.kind is LogKind.STDOUT:
                self.targets.append(_StreamTarget(sys.stdout.buffer))
            elif dest.kind is LogKind.STDERR:
                self.targets.append(_StreamTarget(sys.stderr.buffer))
            # NULL discards; SYSLOG arrives with the logging issue.

    def on_receive(self, message: object) -> object:
        if isinstance(message, Chunk):
            for target in self.targets:
                target.write(message.data)
        elif isinstance(message, Reopen):
            for target in self.targets:
                target.reopen()
        return None

    def on_stop(self) -> None:
        for target in self.targets:
            target.close()
