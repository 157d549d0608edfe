"""A log sink actor: one per child output channel; writes every chunk to that channel's destinations.

The I/O loop reads a child's pipe in chunks of up to 1 MiB and tells the sink each one, so a chatty child
never waits for a disk or a syslog server, and the process actor never touches its output. Each chunk
carries the pipe's :class:`~supervisord.runtime.ioloop.Flow`; the sink acknowledges the bytes once written,
which is what lets the loop pause a pipe whose sink is behind (bounded memory, the child blocks in
``write()`` like on any full pipe).

The hot path for plain files is one ``os.write`` per chunk per file and an integer compare for rotation;
per-line work happens only for syslog destinations (one message per line) and never for files.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import pykka

from supervisord.actors.messages import ProcessCommunicationEvent, ProcessLogEvent
from supervisord.config.model import LogDestination, LogKind, ProcessConfig, StreamLogConfig, SyslogConfig
from supervisord.rotation import shift_backups, write_all
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.ioloop import Flow, IOLoop
from supervisord.syslog import (
    DatagramTransport,
    LineSplitter,
    StreamTransport,
    SyslogQueue,
    local_socket_path,
    pri,
    rfc3164,
    rfc5424,
)

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
    pattern = re.compile(rf".+?---{re.escape(identifier)}-\S+\.log\.?\d{{0,4}}$")
    removed = []
    for path in glob.glob(os.path.join(glob.escape(childlogdir), "*---*")):
        if pattern.match(os.path.basename(path)) and os.path.isfile(path):
            with contextlib.suppress(OSError):
                os.remove(path)
                removed.append(path)
    return removed


# --- pure transformations (unit-tested on their own) ---

# Supervisor's stripEscapes drops ESC [ up to one of these terminators; the regex does the same in C.
_ANSI = re.compile(rb"\x1b\[[^HfABCDRsuJKhlpm]*[HfABCDRsuJKhlpm]")
_ANSI_TAIL = 64  # an unterminated escape longer than this is not held back (it is not an escape)


class AnsiStripper:
    """Removes ``ESC[…`` sequences from a stream, holding back one that a chunk boundary cuts in two."""

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, data: bytes) -> bytes:
        if self.carry:
            data = self.carry + data
            self.carry = b""
        if b"\x1b" not in data:
            return data
        out = _ANSI.sub(b"", data)
        esc = out.rfind(b"\x1b", max(0, len(out) - _ANSI_TAIL))
        if esc >= 0 and (esc == len(out) - 1 or out[esc + 1 : esc + 2] == b"["):
            self.carry, out = out[esc:], out[:esc]  # unterminated: may complete in the next chunk
        return out

    def flush(self) -> bytes:
        rest, self.carry = self.carry, b""
        return rest


def strip_ansi(data: bytes) -> bytes:
    """One-shot form of :class:`AnsiStripper` (for complete data)."""
    return _ANSI.sub(b"", data)


BEGIN_TOKEN = b"<!--XSUPERVISOR:BEGIN-->"
END_TOKEN = b"<!--XSUPERVISOR:END-->"


def _prefix_at_end(data: bytes, token: bytes) -> int:
    """Length of the longest proper prefix of ``token`` that ``data`` ends with (0 if none)."""
    for size in range(min(len(token) - 1, len(data)), 0, -1):
        if data.endswith(token[:size]):
            return size
    return 0


class CaptureScanner:
    """Supervisor's process-communication capture mode as a pure state machine over chunks.

    ``feed`` returns segments in order: ``("log", data)`` for normal output, ``("capture", data)`` for bytes
    between the tokens, and ``("event", payload)`` when END closes a capture (the payload keeps roughly the
    last ``maxbytes`` bytes, like Supervisor's bounded buffer). A token split across chunks is held back
    until the next chunk decides it.
    """

    def __init__(self, maxbytes: int) -> None:
        self.maxbytes = maxbytes
        self.capturing = False
        self.pending = b""
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        data = self.pending + data if self.pending else data
        self.pending = b""
        while data:
            token = END_TOKEN if self.capturing else BEGIN_TOKEN
            kind = "capture" if self.capturing else "log"
            index = data.find(token)
            if index < 0:
                keep = _prefix_at_end(data, token)
                if keep:
                    self.pending, data = data[-keep:], data[:-keep]
                if data:
                    self._emit(out, kind, data)
                break
            if index:
                self._emit(out, kind, data[:index])
            data = data[index + len(token) :]
            if self.capturing:
                out.append(("event", bytes(self.buffer)))
                self.buffer.clear()
            self.capturing = not self.capturing
        return out

    def flush(self) -> list[tuple[str, bytes]]:
        """At EOF: a held-back partial token was just data after all."""
        rest, self.pending = self.pending, b""
        out: list[tuple[str, bytes]] = []
        if rest:
            self._emit(out, "capture" if self.capturing else "log", rest)
        return out

    def _emit(self, out: list[tuple[str, bytes]], kind: str, data: bytes) -> None:
        out.append((kind, data))
        if kind == "capture":
            self.buffer += data
            if len(self.buffer) > self.maxbytes:
                del self.buffer[: len(self.buffer) - self.maxbytes]


# --- destinations ---


class FileTarget:
    """An append-mode file rotated by size into ``.1`` … ``.backups`` (``backups`` 0: truncate).

    A chunk that would cross ``maxbytes`` is cut after its last complete line that fits, so every file
    holds whole lines and at most ``maxbytes`` bytes (unless one line alone is longer). Only this actor
    writes the file, so a rename-based rotation can neither lose nor repeat a byte.
    """

    def __init__(self, path: str, maxbytes: int, backups: int, *, auto: bool = False) -> None:
        self.path = path
        self.maxbytes = maxbytes
        self.backups = backups
        self.auto = auto
        self.fd = -1
        self.size = 0
        self.open()

    def open(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        self.size = os.fstat(self.fd).st_size

    def write(self, data: bytes) -> None:
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
            os.ftruncate(self.fd, 0)  # O_APPEND: the next write lands at offset 0
            self.size = 0
            return
        os.close(self.fd)
        self.fd = -1
        shift_backups(self.path, self.backups)
        self.open()

    def reopen(self) -> None:
        """SIGUSR2: the file may have been moved (logrotate) or truncated (copytruncate)."""
        self.close()
        self.open()

    def clear(self) -> None:
        """clearProcessLogs: remove the file and start an empty one (backups stay, as in Supervisor)."""
        self.close()
        with contextlib.suppress(OSError):
            os.remove(self.path)
        self.open()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def remove(self) -> None:
        """Delete the file and its backups (AUTO logs at shutdown)."""
        self.close()
        for path in [self.path] + [f"{self.path}.{n}" for n in range(1, self.backups + 1)]:
            with contextlib.suppress(OSError):
                os.remove(path)


class FdTarget:
    """The daemon's own stdout or stderr: written straight to the fd (no Python buffer to flush)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> None:
        write_all(self.fd, data)

    def reopen(self) -> None:
        pass

    def clear(self) -> None:
        pass

    def close(self) -> None:
        pass


class SyslogTarget:
    """One message per line to local or remote syslog, through a bounded, non-blocking queue.

    ``style`` ``"supervisor"`` is Supervisor's ``*_syslog=true``: ``supervisord: <procname> <line>`` at
    user.info, as Python's ``syslog.syslog`` would send it. ``"config"`` uses syslog_facility/priority/tag.
    """

    def __init__(
        self,
        dest: LogDestination,
        syslog: SyslogConfig,
        name: str,
        channel: str,
        *,
        style: str = "config",
    ) -> None:
        self.splitter = LineSplitter()
        self.remote = dest.host is not None
        self.prefix = b""
        if style == "supervisor":
            self.tag = "supervisord"  # Python's syslog.syslog() ident under the supervisord script
            self.pri = pri("user", "info")
            self.prefix = name.encode() + b" "
        else:
            self.tag = syslog.tag or name
            priority = syslog.stderr_priority if channel == "stderr" else syslog.stdout_priority
            self.pri = pri(syslog.facility, priority)
        self.hostname = socket.gethostname() if self.remote else None
        self.pid: int | None = None
        self.tcp = dest.protocol == "tcp" and self.remote
        if dest.host is None:
            transport: Any = DatagramTransport(local_socket_path())
        elif self.tcp:
            transport = StreamTransport(dest.host, dest.port or 6514)
        else:
            transport = DatagramTransport((dest.host, dest.port or 514))
        self.queue = SyslogQueue(transport)
        self.reported_drops = 0
        self.report_after = 0.0

    def write(self, data: bytes) -> None:
        self._put(self.splitter.feed(data))

    def end(self) -> None:
        self._put(self.splitter.flush())

    def _put(self, lines: list[bytes]) -> None:
        if not lines:
            return
        fmt = rfc5424 if self.tcp else rfc3164
        now = time.time()
        prefix, tag, pri_value, host, pid = self.prefix, self.tag, self.pri, self.hostname, self.pid
        self.queue.put(fmt(pri_value, tag, prefix + line, hostname=host, pid=pid, now=now) for line in lines)
        self.queue.flush()

    def pending(self) -> bool:
        return bool(self.queue.frames)

    def flush(self) -> None:
        self.queue.flush()

    def reopen(self) -> None:
        pass

    def clear(self) -> None:
        pass

    def close(self) -> None:
        self.queue.flush()
        self.queue.close()


Target = FileTarget | FdTarget | SyslogTarget


# --- messages ---


@dataclass(frozen=True)
class Chunk:
    """Output read from the child's pipe; ``flow`` is acknowledged once the data is written."""

    data: bytes
    pid: int = 0
    flow: Flow | None = None


@dataclass(frozen=True)
class Eof:
    """The child closed this pipe: flush held-back partial lines and tokens."""

    pid: int = 0


@dataclass(frozen=True)
class Reopen:
    """SIGUSR2: reopen every file (after logrotate moved or truncated it)."""


@dataclass(frozen=True)
class ClearLog:
    """clearProcessLogs: empty the file destinations. Reply: None."""


@dataclass(frozen=True)
class _Flush:
    """Timer tick: retry syslog frames that could not be sent yet."""


def attach_pipe(loop: IOLoop, fd: int, sink: pykka.ActorRef[Any] | None, pid: int) -> None:
    """Hand pipe ``fd`` of child ``pid`` to the loop, delivering chunks to ``sink`` with backpressure."""
    if sink is None:
        loop.watch_pipe(fd, lambda data: None, lambda: None)
        return
    flow = Flow()
    tell = sink.tell

    def on_eof() -> None:
        tell(Eof(pid))

    loop.watch_pipe(fd, lambda data: tell(Chunk(data, pid, flow)), on_eof, flow)


# --- the actor ---


class LogSinkActor(HubSafeActor):
    """Writes one channel of one process to its configured destinations."""

    def __init__(
        self,
        config: ProcessConfig,
        channel: str,
        ctx: RuntimeContext | None = None,
        auto_path: str | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.channel = channel
        self.stream_config: StreamLogConfig = config.stdout if channel == "stdout" else config.stderr
        self.ctx = ctx
        self.auto_path = auto_path
        self.targets: list[Target] = []
        self.syslogs: list[SyslogTarget] = []
        settings = ctx.settings if ctx is not None else None
        self.stripper = AnsiStripper() if settings is not None and settings.strip_ansi else None
        self.nocleanup = settings.nocleanup if settings is not None else True
        capture = self.stream_config.capture_maxbytes
        self.scanner = CaptureScanner(capture) if capture > 0 else None
        self.pid = 0
        self.flush_armed = False
        self.logger = ctx.logger if ctx is not None else log

    def on_start(self) -> None:
        cfg = self.stream_config
        for dest in cfg.destinations:
            try:
                self._open(dest)
            except OSError as exc:
                self.logger.critical("cannot open %s log of %s: %s", self.channel, self.config.name, exc)
        if cfg.syslog:
            local = LogDestination(LogKind.SYSLOG)
            name = self.config.name
            target = SyslogTarget(local, self.config.syslog, name, self.channel, style="supervisor")
            self.targets.append(target)
            self.syslogs.append(target)
        # With nothing but plain targets, chunks skip the per-chunk checks of the general path.
        self.plain = self.stripper is None and self.scanner is None and not cfg.events_enabled

    def _open(self, dest: LogDestination) -> None:
        cfg = self.stream_config
        if dest.kind is LogKind.FILE and dest.path:
            self.targets.append(FileTarget(dest.path, cfg.maxbytes, cfg.backups))
        elif dest.kind is LogKind.AUTO and self.auto_path:
            self.targets.append(FileTarget(self.auto_path, cfg.maxbytes, cfg.backups, auto=True))
        elif dest.kind is LogKind.STDOUT:
            self.targets.append(FdTarget(sys.stdout.fileno()))
        elif dest.kind is LogKind.STDERR:
            self.targets.append(FdTarget(sys.stderr.fileno()))
        elif dest.kind is LogKind.SYSLOG:
            target = SyslogTarget(dest, self.config.syslog, self.config.name, self.channel)
            self.targets.append(target)
            self.syslogs.append(target)
        # NULL discards.

    # -- messages --

    def on_receive(self, message: Any) -> Any:
        # Never raise: an actor that dies here would leave its child writing into a closed pipe.
        try:
            if isinstance(message, Chunk):
                self._on_chunk(message)
            elif isinstance(message, Eof):
                self._on_eof()
            elif isinstance(message, _Flush):
                self.flush_armed = False
            elif isinstance(message, Reopen):
                for target in self.targets:
                    target.reopen()
            elif isinstance(message, ClearLog):
                for target in self.targets:
                    target.clear()
        except Exception:
            self.logger.exception("log sink for %s %s failed", self.config.name, self.channel)
        if self.syslogs:
            self._service_syslog()
        return None

    def _on_chunk(self, chunk: Chunk) -> None:
        try:
            if chunk.pid != self.pid:
                self._new_pid(chunk.pid)
            if self.plain:
                data = chunk.data
                for target in self.targets:
                    target.write(data)
                if self.logger.isEnabledFor(logging.DEBUG):
                    self._mainlog(data)
                return
            data = self.stripper.feed(chunk.data) if self.stripper is not None else chunk.data
            self._route(data)
        finally:
            if chunk.flow is not None:
                chunk.flow.done(len(chunk.data))

    def _route(self, data: bytes) -> None:
        if self.scanner is None:
            if data:
                self._log(data, captured=False)
            return
        for kind, piece in self.scanner.feed(data):
            if kind == "event":
                self._comm_event(piece)
            elif piece:
                self._log(piece, captured=kind == "capture")

    def _on_eof(self) -> None:
        rest = self.stripper.flush() if self.stripper is not None else b""
        if rest:
            self._route(rest)
        if self.scanner is not None:
            for kind, piece in self.scanner.flush():
                self._log(piece, captured=kind == "capture")
        for target in self.syslogs:
            target.end()

    def _new_pid(self, pid: int) -> None:
        self.pid = pid
        for target in self.syslogs:
            if target.prefix == b"":
                target.pid = pid

    def _log(self, data: bytes, *, captured: bool) -> None:
        """Supervisor's ``_log``: the log file (unless captured), the main log at debug, then the event."""
        if not captured:
            for target in self.targets:
                target.write(data)
        if self.logger.isEnabledFor(logging.DEBUG):
            self._mainlog(data)
        if self.stream_config.events_enabled:
            self._publish(ProcessLogEvent(self.config.name, self.config.group, self.pid, self.channel, data))

    def _mainlog(self, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = f"Undecodable: {data!r}"
        self.logger.debug("%r %s output:\n%s", self.config.name, self.channel, text)

    def _comm_event(self, payload: bytes) -> None:
        c = self.config
        self._publish(ProcessCommunicationEvent(c.name, c.group, self.pid, self.channel, payload))
        self.logger.debug("%r %s emitted a comm event", c.name, self.channel)

    def _publish(self, event: object) -> None:
        bus = self.ctx.extra.get("eventbus") if self.ctx is not None else None
        if bus is None:
            return
        with contextlib.suppress(pykka.ActorDeadError):
            bus.tell(event)

    def _service_syslog(self) -> None:
        """Retry queued frames; report drops; keep a retry timer armed while anything is waiting."""
        waiting = False
        for target in self.syslogs:
            if target.pending():
                target.flush()
            dropped = target.queue.dropped
            now = time.monotonic()
            if dropped != target.reported_drops and now >= target.report_after:
                target.report_after = now + 10.0  # at most one warning per 10 s per destination
                self.logger.warning(
                    "%s %s syslog is not keeping up: dropped %d messages so far",
                    self.config.name,
                    self.channel,
                    dropped,
                )
                target.reported_drops = dropped
            waiting = waiting or target.pending()
        if waiting and not self.flush_armed and self.ctx is not None:
            self.flush_armed = True
            ref = self.actor_ref
            self.ctx.ioloop.call_at(time.monotonic() + 0.05, lambda: ref.tell(_Flush()))

    def on_stop(self) -> None:
        for target in self.targets:
            try:
                if isinstance(target, FileTarget) and target.auto and not self.nocleanup:
                    target.remove()
                else:
                    target.close()
            except OSError:
                pass

    def on_failure(self, *args: object) -> None:
        self.on_stop()
