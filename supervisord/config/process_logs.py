"""The ``stdout_*``/``stderr_*`` keys of a program: where each output channel goes and how it is kept."""

from __future__ import annotations

from collections.abc import Callable

from supervisord.config import values as v
from supervisord.config.context import LoadContext
from supervisord.config.errors import report
from supervisord.config.expand import ExpansionNames
from supervisord.config.model import LogDestination, LogKind, StreamLogConfig
from supervisord.config.section import SectionReader

STREAM_KEYS = frozenset(
    f"{stream}_{suffix}"
    for stream in ("stdout", "stderr")
    for suffix in (
        "logfile",
        "logfile_maxbytes",
        "logfile_backups",
        "capture_maxbytes",
        "events_enabled",
        "syslog",
        "log_format",
        "logfile_compress",
        "logfile_rotate",
    )
)
LOG_FORMATS = ("raw", "timestamped", "json")
ROTATE_EVERY = ("hourly", "daily")
# Also the default for the daemon's own log ([supervisord] logfile_maxbytes).
DEFAULT_LOG_MAXBYTES = 50 * 1024 * 1024
_DEFAULT_DESTINATIONS: tuple[LogDestination, ...] = (LogDestination(LogKind.AUTO),)


def stream_log_config(
    ctx: LoadContext,
    r: SectionReader,
    stream: str,
    names: ExpansionNames,
    *,
    listener: bool = False,
    redirect: bool = False,
    first: bool = True,
) -> StreamLogConfig:
    """One output channel's log settings (``stream`` is ``stdout`` or ``stderr``).

    ``redirect`` (stderr of a ``redirect_stderr`` program) discards the channel's own destinations, and a
    listener's stdout is the protocol, so it is never captured. Warnings are given for the ``first``
    process of a section only: every process of ``numprocs`` reads the same keys.
    """
    key = f"{stream}_logfile"
    destinations = r.parse(
        key, lambda text: v.parse_log_destinations(text, ctx.cwd), names, _DEFAULT_DESTINATIONS
    )
    for dest in destinations:
        if dest.kind is LogKind.FILE and dest.path:
            try:
                v.require_parent_dir(dest.path)
            except ValueError as exc:
                report(r.error(str(exc), key))
    maxbytes = r.parse(f"{stream}_logfile_maxbytes", v.parse_byte_size, names, DEFAULT_LOG_MAXBYTES)
    capture = r.parse(f"{stream}_capture_maxbytes", v.parse_byte_size, names, 0)
    if redirect:
        if r.has(key) and first:
            ctx.warnings.append(r.warning(key, "ignored because redirect_stderr=true"))
        destinations = (LogDestination(LogKind.NULL),)
    if listener and capture:
        if first:
            ctx.warnings.append(
                r.warning(
                    f"{stream}_capture_maxbytes", "ignored for event listeners (stdout is the protocol)"
                )
            )
        capture = 0
    if first and maxbytes == 0 and any(dest.kind is LogKind.AUTO for dest in destinations):
        ctx.warnings.append(
            r.warning(
                f"{stream}_logfile_maxbytes",
                f"AUTO {key} with maxbytes=0 is never rotated and may fill the disk",
            )
        )
    return StreamLogConfig(
        destinations=destinations,
        maxbytes=maxbytes,
        backups=r.parse(f"{stream}_logfile_backups", v.int_at_least(0), names, 10),
        capture_maxbytes=capture,
        events_enabled=r.parse(f"{stream}_events_enabled", v.parse_bool, names, False),
        syslog=r.parse(f"{stream}_syslog", v.parse_bool, names, False),
        log_format=r.parse(f"{stream}_log_format", _choice(LOG_FORMATS), names, "raw"),
        compress=r.parse(f"{stream}_logfile_compress", _choice(("gzip", "none")), names, "none") == "gzip",
        rotate_every=r.parse(f"{stream}_logfile_rotate", _choice(ROTATE_EVERY), names, None),
    )


def _choice(allowed: tuple[str, ...]) -> Callable[[str], str]:
    """A parser accepting one of ``allowed`` (any case)."""

    def parse(text: str) -> str:
        word = text.strip().lower()
        if word not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got '{text}'")
        return word

    return parse
