"""Parsers for single config values.

Each parser takes the (already expanded) text of one value and returns a typed result, or raises
``ValueError`` whose message says what was expected and what was found. The loader knows the file, line,
section and key, and wraps that message into a :class:`~supervisord.config.errors.ConfigError`; keeping
the parsers location-free makes them trivial to test and to reuse (e.g. for command-line flags).
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable

from supervisord.config.model import AutoRestart, LogDestination, LogKind

_DIGITS = re.compile(r"[0-9]+")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def parse_bool(text: str) -> bool:
    """Supervisor's boolean: true/yes/on/1 or false/no/off/0 in any case."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false, yes/no, on/off, 1/0), got '{text}'")


def parse_int(text: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A decimal integer, optionally range-checked (bounds inclusive)."""
    what = _range_words("an integer", minimum, maximum)
    try:
        number = int(text.strip(), 10)
    except ValueError:
        raise ValueError(f"expected {what}, got '{text}'") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueError(f"expected {what}, got '{text}'")
    return number


def int_at_least(minimum: int) -> Callable[[str], int]:
    """:func:`parse_int` with a lower bound, in the one-argument shape a section reader calls."""
    return lambda text: parse_int(text, minimum=minimum)


def _range_words(what: str, minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{what} between {minimum} and {maximum}"
    if minimum is not None:
        return f"{what} >= {minimum}"
    if maximum is not None:
        return f"{what} <= {maximum}"
    return what


MAX_SECONDS = 365 * 24 * 3600  # one year: any wait longer than that is a typo, not a plan


def parse_seconds(text: str) -> float:
    """A number of seconds from 0 to one year; fractions are allowed (``0.5``).

    Why a maximum: every such value ends up as a timer, and a timer of 1e10 s once overflowed the I/O
    thread's ``epoll_wait`` and killed it. The loop clamps timers as well; this bound says so at load.
    """
    try:
        number = float(text.strip())
    except ValueError:
        raise ValueError(f"expected a number of seconds >= 0, got '{text}'") from None
    if not number >= 0 or number == float("inf"):  # also rejects nan
        raise ValueError(f"expected a number of seconds >= 0, got '{text}'")
    if number > MAX_SECONDS:
        raise ValueError(f"expected a number of seconds <= {MAX_SECONDS} (one year), got '{text}'")
    return number


_SIZE_SUFFIXES = {"KB": 1024, "MB": 1024**2, "GB": 1024**3}


def parse_byte_size(text: str) -> int:
    """Bytes with an optional ``KB``/``MB``/``GB`` suffix (any case, powers of 1024); 0 means unlimited."""
    body = text.strip()
    factor = 1
    suffix = body[-2:].upper()
    if suffix in _SIZE_SUFFIXES:
        factor = _SIZE_SUFFIXES[suffix]
        body = body[:-2].strip()
    try:
        number = int(body, 10)
    except ValueError:
        raise ValueError(f"expected a byte size like 1024, 10KB, 50MB or 1GB, got '{text}'") from None
    if number < 0:
        raise ValueError(f"expected a byte size >= 0, got '{text}'")
    return number * factor


def parse_octal(text: str) -> int:
    """An octal mode such as ``022`` or ``0o700`` (for umask and socket chmod)."""
    body = text.strip()
    try:
        number = int(body, 8)
    except ValueError:
        raise ValueError(f"expected an octal number like 022 or 0700, got '{text}'") from None
    if number < 0 or number > 0o7777:
        raise ValueError(f"expected an octal mode between 0 and 07777, got '{text}'")
    return number


def parse_signal(text: str) -> int:
    """A signal as ``TERM``, ``SIGTERM``, ``term`` or a number; returns the number."""
    body = text.strip()
    if _DIGITS.fullmatch(body):
        number = int(body)
        if 1 <= number < signal.NSIG:
            return number
        raise ValueError(f"expected a signal name or a number between 1 and {signal.NSIG - 1}, got '{text}'")
    name = body.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        member = signal.Signals[name]
    except KeyError:
        raise ValueError(f"expected a signal name like TERM, SIGINT or KILL, got '{text}'") from None
    return int(member)


def parse_signal_list(text: str) -> tuple[int, ...]:
    """One or more signals separated by spaces or commas (Go's ``stopsignal = TERM INT KILL``)."""
    parts = [part for part in re.split(r"[\s,]+", text.strip()) if part]
    if not parts:
        raise ValueError(f"expected one or more signal names, got '{text}'")
    return tuple(parse_signal(part) for part in parts)


def parse_exitcodes(text: str) -> frozenset[int]:
    """A comma-separated list of exit codes 0-255."""
    codes: set[int] = set()
    for part in text.split(","):
        body = part.strip()
        if not _DIGITS.fullmatch(body) or int(body) > 255:
            raise ValueError(f"expected a comma-separated list of exit codes 0-255, got '{text}'")
        codes.add(int(body))
    return frozenset(codes)


def parse_name(text: str) -> str:
    """A process or group name: non-empty, without whitespace, ``:`` or ``/`` (they break namespecs)."""
    body = text.strip()
    if not body:
        raise ValueError("expected a non-empty name, got ''")
    for char in body:
        if char.isspace() or char in ":/":
            raise ValueError(
                f"expected a name without spaces, ':' or '/', got '{body}' (bad character {char!r})"
            )
    return body


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated list with blanks around items and empty items dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_autorestart(text: str) -> AutoRestart:
    """``true``/``false`` (any boolean spelling) or ``unexpected``."""
    lowered = text.strip().lower()
    if lowered == "unexpected":
        return AutoRestart.UNEXPECTED
    if lowered in _TRUE:
        return AutoRestart.ALWAYS
    if lowered in _FALSE:
        return AutoRestart.NEVER
    raise ValueError(f"expected true, false or unexpected, got '{text}'")


_ENV_KEY = re.compile(r"[^\s=,\"']+")


def parse_environment(text: str) -> tuple[tuple[str, str], ...]:
    """``KEY="val",K2=v2``: quotes are stripped, commas and ``=`` inside quotes kept.

    Values may mix quoted and bare parts (``a"b c"`` gives ``ab c``); whitespace (including the newlines
    of a continued value) around pairs is ignored. Supervisor's legacy shlex reading accepts the same
    common forms; this reader additionally reports exactly where a pair is malformed.
    """
    pairs: list[tuple[str, str]] = []
    pos = 0
    length = len(text)

    def fail(reason: str) -> ValueError:
        return ValueError(f"expected KEY=value pairs separated by commas ({reason}), got '{text}'")

    while True:
        while pos < length and (text[pos].isspace() or text[pos] == ","):
            pos += 1
        if pos >= length:
            break
        match = _ENV_KEY.match(text, pos)
        if match is None:
            raise fail(f"bad key at position {pos + 1}")
        key = match.group(0)
        pos = match.end()
        while pos < length and text[pos].isspace():
            pos += 1
        if pos >= length or text[pos] != "=":
            raise fail(f"missing '=' after {key}")
        pos += 1
        while pos < length and text[pos].isspace() and text[pos] != "\n":
            pos += 1
        value: list[str] = []
        trailing_bare = 0  # unquoted whitespace at the end of the value, trimmed when the pair ends
        while pos < length and text[pos] != ",":
            char = text[pos]
            if char in "\"'":
                end = text.find(char, pos + 1)
                if end < 0:
                    raise fail(f"unterminated {char} quote in value of {key}")
                value.append(text[pos + 1 : end])
                trailing_bare = 0
                pos = end + 1
                continue
            value.append(char)
            trailing_bare = trailing_bare + 1 if char.isspace() else 0
            pos += 1
        joined = "".join(value)
        if trailing_bare:
            joined = joined[:-trailing_bare]
        if "\0" in key or "\0" in joined:  # execve() cannot carry it: the spawn would fail every time
            raise ValueError(f"expected no NUL byte in an environment variable, got one in {key!r}")
        pairs.append((key, joined))
    return tuple(pairs)


_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_DOTENV_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_dotenv(text: str) -> tuple[tuple[str, str], ...]:
    """A dotenv file for ``envFiles``: ``KEY=VALUE`` lines, optional ``export``, ``#`` comments.

    Double-quoted values understand ``\\n``-style escapes, single-quoted values are literal, bare values
    end at a `` #`` comment. The last line counts even without a trailing newline (a bug in some readers).
    Errors name the 1-based line in the message.
    """
    pairs: list[tuple[str, str]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].strip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep or not _DOTENV_KEY.fullmatch(key):
            raise ValueError(f"line {lineno}: expected KEY=VALUE, got '{raw.strip()}'")
        value = _dotenv_value(rest.strip(), lineno)
        if "\0" in value:
            raise ValueError(f"line {lineno}: expected no NUL byte in the value of {key}")
        pairs.append((key, value))
    return tuple(pairs)


def _dotenv_value(rest: str, lineno: int) -> str:
    if rest[:1] == "'":
        end = rest.find("'", 1)
        if end < 0:
            raise ValueError(f"line {lineno}: expected a closing ' quote, got '{rest}'")
        return rest[1:end]
    if rest[:1] == '"':
        out: list[str] = []
        index = 1
        while index < len(rest):
            char = rest[index]
            if char == "\\" and index + 1 < len(rest):
                nxt = rest[index + 1]
                out.append(_DOTENV_ESCAPES.get(nxt, "\\" + nxt))
                index += 2
                continue
            if char == '"':
                return "".join(out)
            out.append(char)
            index += 1
        raise ValueError(f"line {lineno}: expected a closing \" quote, got '{rest}'")
    comment = re.search(r"\s#", rest)
    if comment:
        rest = rest[: comment.start()]
    return rest.strip()


def read_dotenv(path: str) -> tuple[tuple[str, str], ...]:
    """Read and parse a dotenv file; a missing or unreadable file is a ValueError naming it."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ValueError(f"expected a readable env file, got '{path}' ({exc.strerror or exc})") from None
    try:
        return parse_dotenv(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def absolute_path(path: str, cwd: str) -> str:
    """``~`` expanded and made absolute against ``cwd`` (Supervisor resolves against the daemon's cwd)."""
    expanded = os.path.expanduser(path)
    return os.path.normpath(os.path.join(cwd, expanded))


def require_parent_dir(path: str) -> str:
    """``path`` itself if its directory exists: Supervisor won't create a log, pid or socket directory."""
    if not os.path.isdir(os.path.dirname(path)):
        raise ValueError(
            f"The directory named as part of the path {path} does not exist (expected an existing directory)"
        )
    return path


_SYSLOG_PROTO = re.compile(r"(?P<proto>[A-Za-z]+):(?P<rest>.*)$")
_SYSLOG_HOST = re.compile(r"(?P<host>\[[^\]]+\]|[^:\s\[\]]+)(?::(?P<port>[0-9]+))?")
_SYSLOG_PORTS = {"udp": 514, "tcp": 6514}


def parse_log_destination(text: str, cwd: str) -> LogDestination:
    """One log target: AUTO, NONE/OFF, /dev/null|stdout|stderr, ``syslog[ @[proto:]host[:port]]``, a path."""
    body = text.strip()
    upper = body.upper()
    if not body:
        raise ValueError("expected a log file path, AUTO, NONE or syslog, got ''")
    if upper == "AUTO":
        return LogDestination(LogKind.AUTO)
    if upper in ("NONE", "OFF") or body == "/dev/null":
        return LogDestination(LogKind.NULL)
    if body == "/dev/stdout":
        return LogDestination(LogKind.STDOUT)
    if body == "/dev/stderr":
        return LogDestination(LogKind.STDERR)
    if body.lower() == "syslog":
        return LogDestination(LogKind.SYSLOG)
    if body.lower().startswith("syslog") and body[6:].lstrip().startswith("@"):
        return _remote_syslog(body)
    return LogDestination(LogKind.FILE, path=absolute_path(body, cwd))


def _remote_syslog(body: str) -> LogDestination:
    """``syslog @[udp|tcp:]host[:port]``; a ``word:`` prefix is a protocol unless digits follow it."""
    rest = body[6:].lstrip()[1:].strip()
    proto = "udp"
    match = _SYSLOG_PROTO.match(rest)
    if match and not _DIGITS.fullmatch(match.group("rest")):
        proto = match.group("proto").lower()
        rest = match.group("rest")
        if proto not in _SYSLOG_PORTS:
            raise ValueError(f"expected syslog protocol udp or tcp, got '{match.group('proto')}' in '{body}'")
    target = _SYSLOG_HOST.fullmatch(rest)
    if target is None:
        raise ValueError(f"expected 'syslog @[udp|tcp:]host[:port]', got '{body}'")
    host = target.group("host").strip("[]")
    port = int(target.group("port")) if target.group("port") else _SYSLOG_PORTS[proto]
    if not 1 <= port <= 65535:
        raise ValueError(f"expected a syslog port between 1 and 65535, got '{body}'")
    return LogDestination(LogKind.SYSLOG, host=host, port=port, protocol=proto)


def parse_log_destinations(text: str, cwd: str) -> tuple[LogDestination, ...]:
    """A comma-separated list of :func:`parse_log_destination` targets (at least one)."""
    items = [item for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError(f"expected a log file path, AUTO, NONE or syslog, got '{text}'")
    return tuple(parse_log_destination(item, cwd) for item in items)


SYSLOG_FACILITIES = frozenset(
    {
        "kern",
        "kernel",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
    }
    | {f"local{n}" for n in range(8)}
)
SYSLOG_PRIORITIES = frozenset({"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"})
_PRIORITY_ALIASES = {"warn": "warning", "error": "err"}


def parse_syslog_facility(text: str) -> str:
    """A syslog facility name, any case; returned lower-case (``kernel`` normalised to ``kern``)."""
    lowered = text.strip().lower()
    if lowered not in SYSLOG_FACILITIES:
        raise ValueError(
            "expected a syslog facility (KERNEL USER MAIL DAEMON AUTH SYSLOG LPR NEWS UUCP CRON AUTHPRIV FTP "
            f"LOCAL0..LOCAL7), got '{text}'"
        )
    return "kern" if lowered == "kernel" else lowered


def parse_syslog_priority(text: str) -> str:
    """A syslog priority name, any case; returned lower-case with ``warn`` spelled ``warning``."""
    lowered = text.strip().lower()
    lowered = _PRIORITY_ALIASES.get(lowered, lowered)
    if lowered not in SYSLOG_PRIORITIES:
        raise ValueError(
            f"expected a syslog priority (EMERG ALERT CRIT ERR WARN NOTICE INFO DEBUG), got '{text}'"
        )
    return lowered


LOGLEVELS = ("critical", "error", "warn", "info", "debug", "trace", "blather")
_LOGLEVEL_ALIASES = {"warning": "warn", "fatal": "critical", "panic": "critical", "crit": "critical"}


def parse_loglevel(text: str) -> str:
    """A daemon log level, any case; aliases (warning, fatal, panic) mapped to Supervisor's names."""
    lowered = text.strip().lower()
    lowered = _LOGLEVEL_ALIASES.get(lowered, lowered)
    if lowered not in LOGLEVELS:
        raise ValueError(f"expected a log level ({' '.join(LOGLEVELS)}), got '{text}'")
    return lowered


def parse_inet_port(text: str) -> tuple[str, int]:
    """``host:port``, ``*:port``, ``:port`` or ``port``; the host is "" for all interfaces."""
    body = text.strip()
    host, sep, port_text = body.rpartition(":")
    if not sep:
        host, port_text = "", body
    host = host.strip()
    if host == "*":
        host = ""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not _DIGITS.fullmatch(port_text.strip()) or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"expected 'host:port', ':port' or 'port' with a port 0-65535, got '{text}'")
    return host, int(port_text)


def parse_user_spec(text: str) -> str:
    """``user`` or ``user:group``, both of which must exist (names or numeric ids)."""
    import grp
    import pwd

    body = text.strip()
    user, _, group = body.partition(":")
    if not user:
        raise ValueError(f"expected 'user' or 'user:group', got '{text}'")
    try:
        if _DIGITS.fullmatch(user):
            pwd.getpwuid(int(user))
        else:
            pwd.getpwnam(user)
    except KeyError:
        raise ValueError(f"expected an existing user name or uid, got '{user}'") from None
    if group:
        try:
            if _DIGITS.fullmatch(group):
                grp.getgrgid(int(group))
            else:
                grp.getgrnam(group)
        except KeyError:
            raise ValueError(f"expected an existing group name or gid, got '{group}'") from None
    return body
