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
import logging
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pykka

from supervisord.actors.messages import ProcessCommunicationEvent, ProcessLogEvent
from supervisord.capture import AnsiStripper, CaptureScanner
from supervisord.config.model import LogDestination, LogKind, ProcessConfig, StreamLogConfig
from supervisord.logformat import LineFormatter
from supervisord.logtargets import FdTarget, FileTarget, Target
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.ioloop import Flow, IOLoop
from supervisord.runtime.pooled import blocking

if TYPE_CHECKING:
    from supervisord.syslog import SyslogTarget

log = logging.getLogger("supervisord")

# --- messages ---


@dataclass(frozen=True)
class Chunk:
    """Output read from the child's pipe; ``flow`` is acknowledged once the data is written."""

    data: bytes
    pid: int = 0
    flow: Flow | None = None


@dataclass(frozen=True)
class Begin:
    """Child ``pid`` was spawned: open the log files now (they stay closed while it is not running)."""

    pid: int = 0


@dataclass(frozen=True)
class Eof:
    """The child closed this pipe (or was reaped): flush held-back partial lines and tokens, close files."""

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


def attach_pipe(loop: IOLoop, fd: int, sink: pykka.ActorRef[Any] | None, pid: int) -> Any:
    """Hand pipe ``fd`` of child ``pid`` to the loop, delivering chunks to ``sink`` with backpressure.

    Returns the loop's handle, for :meth:`IOLoop.release` once the child is reaped.
    """
    if sink is None:
        return loop.watch_pipe(fd, lambda data: None, lambda: None)
    flow = Flow()
    tell = sink.tell
    tell(Begin(pid))

    def on_eof() -> None:
        tell(Eof(pid))

    return loop.watch_pipe(fd, lambda data: tell(Chunk(data, pid, flow)), on_eof, flow)


def _formatter(config: ProcessConfig, channel: str, stream: StreamLogConfig) -> LineFormatter | None:
    """The line formatter of ``stdout_log_format``/``stderr_log_format`` (None for raw)."""
    if stream.log_format == "raw":
        return None
    return LineFormatter(stream.log_format, config.program_name, config.name, channel)


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
        self.formatter = _formatter(config, channel, self.stream_config)
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
            from supervisord.syslog import SyslogTarget

            local = LogDestination(LogKind.SYSLOG)
            name = self.config.name
            target = SyslogTarget(local, self.config.syslog, name, self.channel, style="supervisor")
            self.targets.append(target)
            self.syslogs.append(target)
        # With nothing but plain targets, chunks skip the per-chunk checks of the general path.
        self.plain = (
            self.stripper is None
            and self.scanner is None
            and self.formatter is None
            and not cfg.events_enabled
        )

    def _open(self, dest: LogDestination) -> None:
        cfg = self.stream_config
        extra: dict[str, Any] = {"compress": cfg.compress, "rotate_every": cfg.rotate_every}
        if dest.kind is LogKind.FILE and dest.path:
            self.targets.append(FileTarget(dest.path, cfg.maxbytes, cfg.backups, **extra))
        elif dest.kind is LogKind.AUTO and self.auto_path:
            self.targets.append(FileTarget(self.auto_path, cfg.maxbytes, cfg.backups, auto=True, **extra))
        elif dest.kind is LogKind.STDOUT:
            self.targets.append(FdTarget(sys.stdout.fileno()))
        elif dest.kind is LogKind.STDERR:
            self.targets.append(FdTarget(sys.stderr.fileno()))
        elif dest.kind is LogKind.SYSLOG:
            from supervisord.syslog import SyslogTarget  # only for programs that log to syslog

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
                if message.pid == self.pid:  # not an old life's late EOF: no child writes here now
                    self._close_files()
            elif isinstance(message, Begin):
                if message.pid != self.pid:
                    self._new_pid(message.pid)
                for target in self.targets:
                    if isinstance(target, FileTarget):
                        target.open_quietly()
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
                with blocking():  # a file on a slow disk may block: nothing parked waits for it
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
        if self.formatter is not None:
            self._write_formatted(self.formatter.flush())
        for target in self.syslogs:
            target.end()

    def _close_files(self) -> None:
        """Two descriptors per configured process add up (600 programs, ``ulimit -n 1024``): a log file is
        open only while its child runs. Readers (tail, readLog) go by path, so they see no difference."""
        for target in self.targets:
            if isinstance(target, FileTarget):
                target.close()

    def _new_pid(self, pid: int) -> None:
        self.pid = pid
        for target in self.syslogs:
            if target.prefix == b"":
                target.pid = pid

    def _log(self, data: bytes, *, captured: bool) -> None:
        """Supervisor's ``_log``: the log file (unless captured), the main log at debug, then the event."""
        if not captured and self.formatter is not None:
            self._write_formatted(self.formatter.feed(data), data)
        elif not captured:
            with blocking():
                for target in self.targets:
                    target.write(data)
        if self.logger.isEnabledFor(logging.DEBUG):
            self._mainlog(data)
        if self.stream_config.events_enabled:
            self._publish(ProcessLogEvent(self.config.name, self.config.group, self.pid, self.channel, data))

    def _write_formatted(self, formatted: bytes, raw: bytes = b"") -> None:
        """Formatted lines to files and fds; syslog destinations keep the raw text (one message a line)."""
        with blocking():
            for target in self.targets:
                piece = raw if target in self.syslogs else formatted
                if piece:
                    target.write(piece)

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
        bus = self.ctx.eventbus if self.ctx is not None else None
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
