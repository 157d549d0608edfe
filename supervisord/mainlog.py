"""supervisord's own log, in Supervisor's format: ``2026-11-25 20:21:16,123 INFO spawned: 'x' with pid 7``.

Built on the stdlib ``logging`` package (thread-safe, rotating handler included) with Supervisor's level
names, including its TRAC and BLAT levels below DEBUG.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time

from supervisord.config.model import SupervisordConfig

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
# The words the state machine and actors use for Log effects.
EFFECT_LEVELS = {"crit": logging.CRITICAL, "error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO}
EFFECT_LEVELS.update(LEVELS)


class SupervisorFormatter(logging.Formatter):
    """``YYYY-MM-DD HH:MM:SS,mmm LEVL message`` in local time."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        level = LEVEL_NAMES.get(record.levelno, record.levelname[:4])
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return f"{stamp},{int(record.msecs):03d} {level} {message}"


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def configure(config: SupervisordConfig, *, to_stdout: bool) -> logging.Logger:
    """(Re)build the main log's handlers from ``[supervisord]``; returns the logger."""
    logger = get_logger()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(LEVELS.get(config.loglevel, logging.INFO))
    logger.propagate = False
    formatter = SupervisorFormatter()
    target = config.logfile
    stdout_target = target in ("/dev/stdout", "/proc/self/fd/1")
    handlers: list[logging.Handler] = []
    if stdout_target:
        handlers.append(logging.StreamHandler(sys.stdout))
    elif target == "/dev/stderr":
        handlers.append(logging.StreamHandler(sys.stderr))
    elif target == "syslog":
        handlers.append(logging.handlers.SysLogHandler(address="/dev/log"))
    elif target and target.upper() not in ("NONE", "OFF"):
        handlers.append(
            logging.handlers.RotatingFileHandler(
                target, maxBytes=config.logfile_maxbytes, backupCount=config.logfile_backups
            )
        )
    if to_stdout and not stdout_target:
        handlers.append(logging.StreamHandler(sys.stdout))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger


def reopen() -> None:
    """SIGUSR2: reopen file handlers (for an external logrotate)."""
    for handler in get_logger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.acquire()
            try:
                handler.close()
                handler.stream = handler._open()
            finally:
                handler.release()


for _level, _name in ((TRACE, "TRAC"), (BLATHER, "BLAT")):
    logging.addLevelName(_level, _name)
