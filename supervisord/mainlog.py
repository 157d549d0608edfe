"""supervisord's own log, in Supervisor's format: ``2026-11-25 20:21:16,123 INFO spawned: 'x' with pid 7``.

Built on the stdlib ``logging`` package (thread-safe: actors log from any worker) with Supervisor's level
names, including its TRAC and BLAT levels below DEBUG. The file handler is our own rather than
``RotatingFileHandler`` because Supervisor's rotation differs in two visible ways: it rotates *after* the
write that reaches ``maxbytes``, and ``backups=0`` truncates the file (the stdlib handler would then never
rotate, and the log would grow without bound).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

from supervisord.config.model import SupervisordConfig
from supervisord.rotation import WriteHealth, shift_backups, write_all
from supervisord.runtime.outlet import stdio

LOGGER_NAME = "supervisord"
TRACE = 5
BLATHER = 3

# Supervisor's four-letter level names, and our config words for each level.
LEVEL_NAMES = {
    logging.CRITICAL: "CRIT",
    logging.ERROR: "ERRO",
    logging.WARNING: "WARN",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBG",
    TRACE: "TRAC",
    BLATHER: "BLAT",
}
LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
    "blather": BLATHER,
}
# Other spellings accepted for ``loglevel``/``-e`` (Supervisor's short names and the Go project's words).
LEVEL_ALIASES = {
    "crit": "critical",
    "fatal": "critical",
    "panic": "critical",
    "erro": "error",
    "err": "error",
    "warning": "warn",
    "debg": "debug",
    "trac": "trace",
    "blat": "blather",
}
# The words the state machine and actors use for Log effects.
EFFECT_LEVELS = {
    "crit": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
}
EFFECT_LEVELS.update(LEVELS)

STDOUT_PATHS = ("/dev/stdout", "/proc/self/fd/1", "/dev/fd/1")
STDERR_PATHS = ("/dev/stderr", "/proc/self/fd/2", "/dev/fd/2")


def level_for(name: str) -> int:
    """The numeric level of a ``loglevel`` word or alias, any case (unknown words: INFO)."""
    word = name.strip().lower()
    return LEVELS.get(LEVEL_ALIASES.get(word, word), logging.INFO)


class SupervisorFormatter(logging.Formatter):
    """``YYYY-MM-DD HH:MM:SS,mmm LEVL message`` in local time."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # the last second formatted: most records share it
        self._last: tuple[logging.LogRecord | None, str] = (None, "")  # the last record and its line

    def format(self, record: logging.LogRecord) -> str:
        last = self._last  # one tuple, read and replaced atomically, like ``_second``
        if last[0] is record:  # the file and the stdout copy format the same record: once is enough
            return last[1]
        line = self._line(record)
        self._last = (record, line)
        return line

    def _line(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        cached = self._second  # one tuple, read and replaced atomically: safe across threads
        if cached[0] == second:
            stamp = cached[1]
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._second = (second, stamp)
        level = LEVEL_NAMES.get(record.levelno, record.levelname[:4])
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return f"{stamp},{int(record.msecs):03d} {level} {message}"


class RotatingLogHandler(logging.Handler):
    """An append-mode log file rotated like Supervisor (``maxbytes`` 0: never; ``backups`` 0: truncate).

    One ``os.write`` per record on an ``O_APPEND`` fd: no Python buffer to lose at a crash, and a reopen
    (SIGUSR2) after logrotate moved the file starts a new one at the configured path.
    """

    def __init__(self, path: str, maxbytes: int, backups: int) -> None:
        super().__init__()
        self.path = path
        self.maxbytes = maxbytes
        self.backups = backups
        self.fd = -1
        self.size = 0
        self.health = WriteHealth(f"the main log {path}")
        self._open()

    def _open(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        self.size = os.fstat(self.fd).st_size

    def emit(self, record: logging.LogRecord) -> None:
        data = b""
        try:
            data = (self.format(record) + "\n").encode("utf-8", "replace")
            if self.fd < 0:
                self._open()
            write_all(self.fd, data)
            self.size += len(data)
            if self.maxbytes and self.size >= self.maxbytes:
                self.rotate()
        except OSError as exc:  # a full disk: one line on stderr, not a "Logging error" traceback per record
            message = self.health.failed(len(data), exc)
            if message is not None:
                with contextlib.suppress(OSError, ValueError):
                    print(f"supervisord: {message}", file=sys.stderr, flush=True)
            return
        except Exception:
            self.handleError(record)
            return
        if self.health.failing:
            recovered = self.health.succeeded()
            self.emit(logging.makeLogRecord({"msg": recovered, "levelno": logging.WARNING}))

    def rotate(self) -> None:
        if self.backups <= 0:
            os.ftruncate(self.fd, 0)
            self.size = 0
            return
        os.close(self.fd)
        self.fd = -1
        shift_backups(self.path, self.backups)
        self._open()

    def reopen(self) -> None:
        self.acquire()
        try:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            self._open()
        finally:
            self.release()

    def close(self) -> None:
        self.acquire()
        try:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
        finally:
            self.release()
        super().close()


class OutletHandler(logging.Handler):
    """The daemon's stdout or stderr: one non-blocking write per record, through the fd's shared outlet.

    When nobody reads that stdout, records are dropped (and counted, and the count logged once it drains)
    instead of blocking the thread that logs: the log file, if any, still gets every line. No handler lock:
    formatting is thread-safe and the outlet serializes the writes, so a thread that logs never waits for
    another one's write.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.outlet = stdio(fd)

    def createLock(self) -> None:
        self.lock = None  # type: ignore[assignment]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "replace")
        except Exception:
            self.handleError(record)
            return
        with contextlib.suppress(BrokenPipeError):  # nobody will ever read it again
            self.outlet.write(data)


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def _syslog_handler() -> logging.Handler | None:
    import logging.handlers  # only for logfile=syslog: it pulls in pickle and more

    from supervisord.syslog import local_socket_path

    try:
        handler = logging.handlers.SysLogHandler(address=local_socket_path())
    except OSError as exc:
        print(f"supervisord: cannot log to syslog at {local_socket_path()}: {exc}", file=sys.stderr)
        return None
    handler.ident = "supervisord: "
    return handler


def build_handlers(config: SupervisordConfig, *, to_stdout: bool) -> list[logging.Handler]:
    """The handlers for ``logfile``; ``to_stdout`` (nodaemon, not silent) adds stdout unless it is there."""
    target = config.logfile
    handlers: list[logging.Handler] = []
    on_stdout = target in STDOUT_PATHS
    if on_stdout:
        handlers.append(OutletHandler(1))
    elif target in STDERR_PATHS:
        handlers.append(OutletHandler(2))
    elif target.lower() == "syslog":
        handler = _syslog_handler()
        if handler is not None:
            handlers.append(handler)
    elif target and target.upper() not in ("NONE", "OFF") and target != "/dev/null":
        handlers.append(RotatingLogHandler(target, config.logfile_maxbytes, config.logfile_backups))
    if to_stdout and not on_stdout:  # never the same line twice on stdout
        handlers.append(OutletHandler(1))
    return handlers


def lighten_records() -> None:
    """Make every log record cheaper to create (the logging HOWTO's "Optimization" switches).

    Our format prints none of the caller's file/line/function, thread or process, so the stack walk in
    ``findCaller`` and the thread/process lookups are pure cost, paid per line on the busiest paths
    (a spawn, an exit, every event dropped by a full listener buffer).
    """
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def configure(config: SupervisordConfig, *, to_stdout: bool) -> logging.Logger:
    """(Re)build the main log's handlers from ``[supervisord]``; returns the logger."""
    lighten_records()
    logger = get_logger()
    new = build_handlers(config, to_stdout=to_stdout)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(level_for(config.loglevel))
    logger.propagate = False
    formatter = SupervisorFormatter()
    for handler in new:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger


def reopen() -> None:
    """SIGUSR2 (and clearLog): reopen file handlers, for an external logrotate."""
    for handler in get_logger().handlers:
        if isinstance(handler, RotatingLogHandler):
            with contextlib.suppress(OSError):
                handler.reopen()
        elif isinstance(handler, logging.FileHandler):
            handler.acquire()
            try:
                handler.close()
                handler.stream = handler._open()
            finally:
                handler.release()


for _level, _name in ((TRACE, "TRAC"), (BLATHER, "BLAT")):
    logging.addLevelName(_level, _name)
