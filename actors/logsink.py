"""A log sink actor: one per process (none when all its output is discarded); writes every chunk of the
child's stdout and stderr to that channel's destinations.

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
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pykka

from supervisord.actors.messages import ProcessCommunicationEvent, ProcessLogEvent
from supervisord.capture import AnsiStripper, CaptureScanner
from supervisord.config.model import LogDestination, LogKind, ProcessConfig, StreamLogConfig
from supervisord.logformat import LineFormatter
from supervisord.logtargets import FdTarget, FileTarget, Target, auto_log_path
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.ioloop import Flow, IOLoop
from supervisord.runtime.pooled import blocking

if TYPE_CHECKING:
    from supervisord.syslog import SyslogTarget

log = logging.getLogger("supervisord")

SPLICE = hasattr(os, "splice")  # Linux, Python 3.10+
PUMP_CHUNK = 1 << 20  # one splice or read moves at most this much
PUMP_BUDGET = 8 << 20  # bytes moved per Readable before the pipe is watched (and the inbox served) again
DRAIN_BUDGET = 4 << 20  # what a released pipe may still give (the loop's four reads of up to 1 MiB)

# --- messages ---


@dataclass(frozen=True)
class Chunk:
    """Output read from the child's ``channel`` pipe; ``flow`` is acknowledged once the data is written."""

    data: bytes
    pid: int = 0
    flow: Flow | None = None
    channel: str = "stdout"


@dataclass(frozen=True)
class Begin:
    """Child ``pid`` was spawned: open ``channel``'s log files now (closed while it is not running).

    For a channel the sink reads itself (``splice``), ``pipe`` is the sink's own dup of the pipe (the sink
    closes it) and ``flow`` resumes the loop's watch.
    """

    pid: int = 0
    channel: str = "stdout"
    pipe: int = -1
    flow: Flow | None = None


@dataclass(frozen=True)
class Readable:
    """The loop saw ``channel``'s pipe readable and paused it: move what is there, then resume the watch."""

    pid: int = 0
    channel: str = "stdout"


@dataclass(frozen=True)
class Eof:
    """The child closed ``channel``'s pipe (or was reaped): flush held-back partial lines and tokens, close
    files."""

    pid: int = 0
    channel: str = "stdout"


@dataclass(frozen=True)
class Reopen:
    """SIGUSR2: reopen every file (after logrotate moved or truncated it)."""


@dataclass(frozen=True)
class ClearLog:
    """clearProcessLogs: empty the file destinations. Reply: None."""


@dataclass(frozen=True)
class _Flush:
    """Timer tick: retry syslog frames that could not be sent yet."""


def attach_pipe(
    loop: IOLoop,
    fd: int,
    sink: pykka.ActorRef[Any] | None,
    pid: int,
    channel: str = "stdout",
    direct: bool = False,
) -> Any:
    """Hand ``channel``'s pipe ``fd`` of child ``pid`` to the loop, delivering chunks to ``sink`` with
    backpressure (``sink`` None: the output is read and dropped, like Supervisor's /dev/null).

    ``direct``: the sink moves the bytes itself, pipe to file with ``splice`` (see :func:`splices`); the
    loop only says when the pipe is readable. Returns the loop's handle, for :meth:`IOLoop.release` once
    the child is reaped.
    """
    if sink is None:
        return loop.watch_pipe(fd, lambda data: None, lambda: None)
    flow = Flow()
    tell = sink.tell
    if direct:
        pipe = os.dup(fd)
        try:
            tell(Begin(pid, channel, pipe, flow))
        except pykka.ActorDeadError:
            os.close(pipe)
            raise
        readable, released = Readable(pid, channel), Eof(pid, channel)
        return loop.watch_ready(fd, lambda: tell(readable), lambda: tell(released), flow)
    tell(Begin(pid, channel))

    def on_eof() -> None:
        tell(Eof(pid, channel))

    return loop.watch_pipe(fd, lambda data: tell(Chunk(data, pid, flow, channel)), on_eof, flow)


def _formatter(config: ProcessConfig, channel: str, stream: StreamLogConfig) -> LineFormatter | None:
    """The line formatter of ``stdout_log_format``/``stderr_log_format`` (None for raw)."""
    if stream.log_format == "raw":
        return None
    return LineFormatter(stream.log_format, config.program_name, config.name, channel)


def discards(stream: StreamLogConfig, debug: bool) -> bool:
    """True when a channel's output goes nowhere: every destination is NONE/``/dev/null``, no syslog, no
    capture mode, no events, and the main log does not copy output (it does at ``loglevel = debug``)."""
    return (
        all(d.kind is LogKind.NULL for d in stream.destinations)
        and not stream.syslog
        and stream.capture_maxbytes <= 0
        and not stream.events_enabled
        and not debug
    )


def splices(stream: StreamLogConfig, settings: Any, debug: bool) -> bool:
    """True when a channel's bytes can go pipe to file untouched: one log file and nothing that must see
    them (no other destination, syslog, ANSI stripping, capture mode, events, line format or debug copy)."""
    files = [d for d in stream.destinations if d.kind in (LogKind.FILE, LogKind.AUTO)]
    return (
        len(files) == 1
        and len(stream.destinations) == 1
        and not stream.syslog
        and stream.capture_maxbytes <= 0
        and not stream.events_enabled
        and stream.log_format == "raw"
        and not settings.strip_ansi
        and not debug
    )


_SETS: dict[frozenset[str], frozenset[str]] = {}


def _shared(channels: frozenset[str]) -> frozenset[str]:
    """One instance of each set of channel names for all processes (a frozenset is ~200 bytes)."""
    return _SETS.setdefault(channels, channels)


class LogSink:
    """A process's handle on its one log sink actor (or on none, when every channel discards).

    Why one actor for both channels: an actor costs an inbox, a ref and pykka's bookkeeping per process,
    and stdout and stderr of one child never need to be written in parallel. Chunks carry their channel,
    so each keeps its own targets, partial lines and rotation; the actor's inbox keeps each pipe's order.
    """

    __slots__ = ("channels", "direct", "logfiles", "ref")

    def __init__(self, config: ProcessConfig, ctx: RuntimeContext) -> None:
        names = ["stdout"] if config.redirect_stderr else ["stdout", "stderr"]
        self.logfiles = {"stdout": "", "stderr": ""}  # the primary file of each channel, for readers
        autos: dict[str, str | None] = {}
        direct = []
        debug = ctx.logger.isEnabledFor(logging.DEBUG)
        for channel in names:
            stream = config.stdout if channel == "stdout" else config.stderr
            auto = None
            if any(d.kind is LogKind.AUTO for d in stream.destinations):
                settings = ctx.settings
                auto = auto_log_path(config, channel, settings.childlogdir, settings.identifier)
            primary = stream.primary_file
            if primary is not None:
                path = auto if primary.kind is LogKind.AUTO else primary.path
                self.logfiles[channel] = path or ""
            if not discards(stream, debug):
                autos[channel] = auto
            if splices(stream, ctx.settings, debug) and SPLICE:
                direct.append(channel)
        self.channels = _shared(frozenset(autos))
        self.direct = _shared(frozenset(direct))
        self.ref: pykka.ActorRef[Any] | None = LogSinkActor.start(config, ctx, autos) if autos else None

    def for_channel(self, channel: str) -> pykka.ActorRef[Any] | None:
        """The actor that writes ``channel``, or None when that channel's output is dropped."""
        return self.ref if channel in self.channels else None

    def attach(self, loop: IOLoop, fd: int, pid: int, channel: str) -> Any:
        """:func:`attach_pipe` for ``channel``: to this sink, dropped, or moved by splice."""
        return attach_pipe(loop, fd, self.for_channel(channel), pid, channel, channel in self.direct)

    def tell(self, message: object) -> None:
        if self.ref is not None:
            self.ref.tell(message)

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=False)


# --- the actor ---


class _Channel:
    """One output channel of the process: its destinations and the state of its partial lines."""

    __slots__ = (
        "flow",
        "formatter",
        "name",
        "pid",
        "pipe",
        "pipe_pid",
        "plain",
        "scanner",
        "stream_config",
        "stripper",
        "syslogs",
        "targets",
    )

    def __init__(self, sink: LogSinkActor, name: str, auto_path: str | None) -> None:
        config = sink.config
        self.name = name
        self.stream_config: StreamLogConfig = config.stdout if name == "stdout" else config.stderr
        self.targets: list[Target] = []
        self.syslogs: list[SyslogTarget] = []
        settings = sink.ctx.settings if sink.ctx is not None else None
        self.stripper = AnsiStripper() if settings is not None and settings.strip_ansi else None
        capture = self.stream_config.capture_maxbytes
        self.scanner = CaptureScanner(capture) if capture > 0 else None
        self.formatter = _formatter(config, name, self.stream_config)
        self.pid = 0
        self.pipe = -1  # our dup of the child's pipe, when we move its bytes ourselves (splice)
        self.pipe_pid = 0
        self.flow: Flow | None = None
        cfg = self.stream_config
        for dest in cfg.destinations:
            try:
                self._open(dest, config, auto_path)
            except OSError as exc:
                sink.logger.critical("cannot open %s log of %s: %s", name, config.name, exc)
        if cfg.syslog:
            from supervisord.syslog import SyslogTarget

            local = LogDestination(LogKind.SYSLOG)
            target = SyslogTarget(local, config.syslog, config.name, name, style="supervisor")
            self.targets.append(target)
            self.syslogs.append(target)
        # With nothing but plain targets, chunks skip the per-chunk checks of the general path.
        self.plain = (
            self.stripper is None
            and self.scanner is None
            and self.formatter is None
            and not cfg.events_enabled
        )

    def _open(self, dest: LogDestination, config: ProcessConfig, auto_path: str | None) -> None:
        cfg = self.stream_config
        extra: dict[str, Any] = {"compress": cfg.compress, "rotate_every": cfg.rotate_every}
        if dest.kind is LogKind.FILE and dest.path:
            self.targets.append(FileTarget(dest.path, cfg.maxbytes, cfg.backups, **extra))
        elif dest.kind is LogKind.AUTO and auto_path:
            self.targets.append(FileTarget(auto_path, cfg.maxbytes, cfg.backups, auto=True, **extra))
        elif dest.kind is LogKind.STDOUT:
            self.targets.append(FdTarget(sys.stdout.fileno()))
        elif dest.kind is LogKind.STDERR:
            self.targets.append(FdTarget(sys.stderr.fileno()))
        elif dest.kind is LogKind.SYSLOG:
            from supervisord.syslog import SyslogTarget  # only for programs that log to syslog

            target = SyslogTarget(dest, config.syslog, config.name, self.name)
            self.targets.append(target)
            self.syslogs.append(target)
        # NULL discards.

    def files(self) -> list[FileTarget]:
        return [target for target in self.targets if isinstance(target, FileTarget)]

    def pump(self, budget: int) -> bool:
        """Move up to ``budget`` bytes from our pipe into the (one) log file; False at EOF (pipe closed)."""
        files = self.files()
        while budget > 0:
            if files:
                moved = files[0].move_from(self.pipe, min(budget, PUMP_CHUNK))
            else:  # the file could not even be set up: drain and drop, as a failed write would
                try:
                    moved = len(os.read(self.pipe, min(budget, PUMP_CHUNK)))
                except BlockingIOError:
                    moved = None
            if moved is None:
                return True
            if moved == 0:
                self.close_pipe()
                return False
            budget -= moved
        return True

    def close_pipe(self) -> None:
        if self.pipe >= 0:
            os.close(self.pipe)
            self.pipe = -1

    def new_pid(self, pid: int) -> None:
        self.pid = pid
        for target in self.syslogs:
            if target.prefix == b"":
                target.pid = pid


class LogSinkActor(HubSafeActor):
    """Writes both output channels of one process to their configured destinations."""

    def __init__(
        self,
        config: ProcessConfig,
        ctx: RuntimeContext | None = None,
        channels: dict[str, str | None] | None = None,
    ) -> None:
        """``channels`` maps each channel this sink writes to its AUTO log path (or None)."""
        super().__init__()
        self.config = config
        self.ctx = ctx
        self.channel_paths = channels if channels is not None else {"stdout": None}
        self.channels: dict[str, _Channel] = {}
        settings = ctx.settings if ctx is not None else None
        self.nocleanup = settings.nocleanup if settings is not None else True
        self.flush_armed = False
        self.has_syslog = False
        self.logger = ctx.logger if ctx is not None else log

    def on_start(self) -> None:
        for name, auto in self.channel_paths.items():
            self.channels[name] = _Channel(self, name, auto)
        self.has_syslog = any(ch.syslogs for ch in self.channels.values())

    # -- messages --

    def on_receive(self, message: Any) -> Any:
        # Never raise: an actor that dies here would leave its child writing into a closed pipe.
        try:
            if isinstance(message, Chunk):
                self._on_chunk(message)
            elif isinstance(message, Eof):
                ch = self.channels.get(message.channel)
                if ch is not None:
                    if ch.pipe >= 0 and message.pid == ch.pipe_pid:  # released: drain our dup, close it
                        with blocking():
                            ch.pump(DRAIN_BUDGET)
                        ch.close_pipe()
                    self._on_eof(ch)
                    if message.pid == ch.pid:  # not an old life's late EOF: no child writes here now
                        self._close_files(ch)
            elif isinstance(message, Readable):
                ch = self.channels.get(message.channel)
                if ch is not None and ch.pipe >= 0 and message.pid == ch.pipe_pid:
                    more = True
                    try:
                        with blocking():
                            more = ch.pump(PUMP_BUDGET)
                    finally:  # even after an error: a pipe never watched again would stall the child
                        if more and ch.flow is not None:
                            ch.flow.done(0)  # watch the pipe again
            elif isinstance(message, Begin):
                ch = self.channels.get(message.channel)
                if ch is None:
                    if message.pipe >= 0:
                        os.close(message.pipe)
                else:
                    if message.pid != ch.pid:
                        ch.new_pid(message.pid)
                    for file in ch.files():
                        file.open_quietly()
                    if message.pipe >= 0:
                        if ch.pipe >= 0:  # the last life's pipe, not released yet: what it holds first
                            with blocking():
                                ch.pump(DRAIN_BUDGET)
                            ch.close_pipe()
                        ch.pipe, ch.pipe_pid, ch.flow = message.pipe, message.pid, message.flow
            elif isinstance(message, _Flush):
                self.flush_armed = False
            elif isinstance(message, Reopen):
                for ch in self.channels.values():
                    for target in ch.targets:
                        target.reopen()
            elif isinstance(message, ClearLog):
                for ch in self.channels.values():
                    for target in ch.targets:
                        target.clear()
        except Exception:
            channel = getattr(message, "channel", "")
            self.logger.exception("log sink for %s %s failed", self.config.name, channel)
        if self.has_syslog:
            self._service_syslog()
        return None

    def _on_chunk(self, chunk: Chunk) -> None:
        try:
            ch = self.channels.get(chunk.channel)
            if ch is None:
                return  # a channel this sink does not write (cannot happen: attach_pipe drops those)
            if chunk.pid != ch.pid:
                ch.new_pid(chunk.pid)
            if ch.plain:
                data = chunk.data
                with blocking():  # a file on a slow disk may block: nothing parked waits for it
                    for target in ch.targets:
                        target.write(data)
                if self.logger.isEnabledFor(logging.DEBUG):
                    self._mainlog(ch, data)
                return
            data = ch.stripper.feed(chunk.data) if ch.stripper is not None else chunk.data
            self._route(ch, data)
        finally:
            if chunk.flow is not None:
                chunk.flow.done(len(chunk.data))

    def _route(self, ch: _Channel, data: bytes) -> None:
        if ch.scanner is None:
            if data:
                self._log(ch, data, captured=False)
            return
        for kind, piece in ch.scanner.feed(data):
            if kind == "event":
                self._comm_event(ch, piece)
            elif piece:
                self._log(ch, piece, captured=kind == "capture")

    def _on_eof(self, ch: _Channel) -> None:
        rest = ch.stripper.flush() if ch.stripper is not None else b""
        if rest:
            self._route(ch, rest)
        if ch.scanner is not None:
            for kind, piece in ch.scanner.flush():
                self._log(ch, piece, captured=kind == "capture")
        if ch.formatter is not None:
            self._write_formatted(ch, ch.formatter.flush())
        for target in ch.syslogs:
            target.end()

    @staticmethod
    def _close_files(ch: _Channel) -> None:
        """Two descriptors per configured process add up (600 programs, ``ulimit -n 1024``): a log file is
        open only while its child runs. Readers (tail, readLog) go by path, so they see no difference."""
        for target in ch.files():
            target.close()

    def _log(self, ch: _Channel, data: bytes, *, captured: bool) -> None:
        """Supervisor's ``_log``: the log file (unless captured), the main log at debug, then the event."""
        if not captured and ch.formatter is not None:
            self._write_formatted(ch, ch.formatter.feed(data), data)
        elif not captured:
            with blocking():
                for target in ch.targets:
                    target.write(data)
        if self.logger.isEnabledFor(logging.DEBUG):
            self._mainlog(ch, data)
        if ch.stream_config.events_enabled:
            c = self.config
            self._publish(ProcessLogEvent(c.name, c.group, ch.pid, ch.name, data))

    @staticmethod
    def _write_formatted(ch: _Channel, formatted: bytes, raw: bytes = b"") -> None:
        """Formatted lines to files and fds; syslog destinations keep the raw text (one message a line)."""
        with blocking():
            for target in ch.targets:
                piece = raw if target in ch.syslogs else formatted
                if piece:
                    target.write(piece)

    def _mainlog(self, ch: _Channel, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = f"Undecodable: {data!r}"
        self.logger.debug("%r %s output:\n%s", self.config.name, ch.name, text)

    def _comm_event(self, ch: _Channel, payload: bytes) -> None:
        c = self.config
        self._publish(ProcessCommunicationEvent(c.name, c.group, ch.pid, ch.name, payload))
        self.logger.debug("%r %s emitted a comm event", c.name, ch.name)

    def _publish(self, event: object) -> None:
        bus = self.ctx.eventbus if self.ctx is not None else None
        if bus is None:
            return
        with contextlib.suppress(pykka.ActorDeadError):
            bus.tell(event)

    def _service_syslog(self) -> None:
        """Retry queued frames; report drops; keep a retry timer armed while anything is waiting."""
        waiting = False
        for ch in self.channels.values():
            for target in ch.syslogs:
                if target.pending():
                    target.flush()
                dropped = target.queue.dropped
                now = time.monotonic()
                if dropped != target.reported_drops and now >= target.report_after:
                    target.report_after = now + 10.0  # at most one warning per 10 s per destination
                    self.logger.warning(
                        "%s %s syslog is not keeping up: dropped %d messages so far",
                        self.config.name,
                        ch.name,
                        dropped,
                    )
                    target.reported_drops = dropped
                waiting = waiting or target.pending()
        if waiting and not self.flush_armed and self.ctx is not None:
            self.flush_armed = True
            ref = self.actor_ref
            self.ctx.ioloop.call_at(time.monotonic() + 0.05, lambda: ref.tell(_Flush()))

    def on_stop(self) -> None:
        for ch in self.channels.values():
            with contextlib.suppress(OSError):
                ch.close_pipe()
            for target in ch.targets:
                try:
                    if isinstance(target, FileTarget) and target.auto and not self.nocleanup:
                        target.remove()
                    else:
                        target.close()
                except OSError:
                    pass

    def on_failure(self, *args: object) -> None:
        self.on_stop()
