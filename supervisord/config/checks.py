"""The operations keys of ``[program:x]``: readiness, liveness (health) checks and the backoff ramp.

Kept apart from :mod:`supervisord.config.programs` so that each family of keys reads as one unit: the
parsers (location-free, raising ``ValueError`` like :mod:`supervisord.config.values`) and the three readers
that turn a section into :class:`ReadinessConfig`, :class:`LivenessConfig` and :class:`BackoffConfig`.
"""

from __future__ import annotations

import os
import shlex
import urllib.parse
from dataclasses import dataclass

from supervisord.config import values as v
from supervisord.config.errors import report
from supervisord.config.expand import ExpansionNames
from supervisord.config.model import BackoffConfig, LivenessConfig, Probe, ProcessConfig, ReadinessConfig
from supervisord.config.section import SectionReader

READINESS_KEYS = frozenset({"readiness_check", "readiness_check_period", "readiness_watchdog_sec"})
LIVENESS_KEYS = frozenset(
    {
        "liveness_check_script",
        "liveness_check_initial_delay",
        "liveness_check_period",
        "liveness_check_timeout",
        "liveness_check_success_threshold",
        "liveness_check_failure_threshold",
        "liveness_check_success_action",
        "liveness_check_failure_action",
    }
)
BACKOFF_KEYS = frozenset(
    {"backoff_initial", "backoff_factor", "backoff_max", "backoff_jitter", "backoff_reset_after"}
)
KEYS = READINESS_KEYS | LIVENESS_KEYS | BACKOFF_KEYS

FOREVER = -1  # startretries = forever


@dataclass(frozen=True)
class HttpProbe:
    """An http(s) probe in the Go project's form: the URL, then curl-like options (parsed at load to check
    them, and again by each probe: the ``@FILE`` of ``-d`` is read at each check, as the Go project does)."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    data: str | None = None  # -d: the body, sent as a POST; "@FILE" for a file's content
    cert: str | None = None  # a client certificate and its key (together)
    key: str | None = None
    ca: str | None = None  # the CA bundle that verifies the server (default: the system's)


# The Go project's options (process/script_executor.go reads -H/--header, -d/--data and the values of
# key, cert and ca, with one or two dashes); its docs write them --key-file, --cert-file, --ca-file.
_HTTP_OPTIONS = {
    **{flag: "header" for flag in ("-H", "--header")},
    **{flag: "data" for flag in ("-d", "--data")},
    **{
        f"{dash}{name}{tail}": name
        for name in ("key", "cert", "ca")
        for dash in ("-", "--")
        for tail in ("", "-file")
    },
}
_HTTP_USAGE = "-H/--header 'NAME: VALUE', -d/--data DATA|@FILE, --cert FILE, --key FILE, --ca FILE"


def parse_http_probe(text: str) -> HttpProbe:
    """``URL [-H 'K: V']... [-d DATA|@FILE] [--cert FILE --key FILE] [--ca FILE]``; quotes as in a shell.

    Unlike the Go project: quoted values may hold spaces, an unknown option is an error naming it (not
    ignored), a missing file is an error (not an empty body or no TLS), and a URL alone is checked too.
    """
    try:
        url, *rest = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"can't parse the options after the URL ({exc})") from None
    if not urllib.parse.urlsplit(url).hostname:
        raise ValueError("the URL has no host")
    found: dict[str, str] = {}
    headers: list[tuple[str, str]] = []
    while rest:
        flag = rest.pop(0)
        option = _HTTP_OPTIONS.get(flag)
        if option is None:
            raise ValueError(f"unknown option '{flag}' after the URL (the options are {_HTTP_USAGE})")
        if not rest:
            raise ValueError(f"option '{flag}' needs a value")
        value = rest.pop(0)
        if option == "header":
            name, colon, content = value.partition(":")
            if not colon or not name.strip():
                raise ValueError(f"option '{flag}' expects 'NAME: VALUE', got '{value}'")
            headers.append((name.strip(), content.strip()))
            continue
        if option != "data" or value.startswith("@"):
            path = value[1:] if option == "data" else value
            if not os.path.isfile(path):
                raise ValueError(f"option '{flag}': no such file '{path}'")
        found[option] = value
    if ("cert" in found) != ("key" in found):
        raise ValueError("options --cert and --key go together (a client certificate and its key)")
    return HttpProbe(
        url, tuple(headers), found.get("data"), found.get("cert"), found.get("key"), found.get("ca")
    )


# --- parsers ---


def parse_startretries(text: str) -> int:
    """An integer >= 0, or ``forever`` (kept as -1)."""
    if text.strip().lower() == "forever":
        return FOREVER
    try:
        return v.parse_int(text, minimum=0)
    except ValueError:
        raise ValueError(f"expected an integer >= 0 or 'forever', got '{text}'") from None


def _parse_probe(text: str, *, readiness: bool) -> Probe:
    body = text.strip()
    expected = (
        "expected notify, http(s)://URL, tcp://HOST:PORT or script://COMMAND"
        if readiness
        else "expected http(s)://URL, tcp://HOST:PORT, a command or script://COMMAND"
    )
    scheme, sep, rest = body.partition("://")
    scheme = scheme.lower() if sep else ""
    if readiness and body.lower() == "notify":
        return Probe("notify")
    if scheme in ("http", "https"):
        try:
            parse_http_probe(body)
        except ValueError as exc:
            raise ValueError(f"{expected}: {exc}, got '{text}'") from None
        return Probe("http", body)
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{expected}: tcp:// needs HOST:PORT with a port 1-65535, got '{text}'")
        return Probe("tcp", f"{host}:{port}")
    if scheme == "script":
        command = rest.strip()
    elif sep or readiness:
        raise ValueError(f"{expected}, got '{text}'")
    else:
        command = body
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"{expected}: can't parse the command ({exc}), got '{text}'") from None
    if not argv:
        raise ValueError(f"{expected}: the command is empty, got '{text}'")
    return Probe("script", command)


def parse_readiness_check(text: str) -> Probe:
    return _parse_probe(text, readiness=True)


def parse_liveness_check(text: str) -> Probe:
    return _parse_probe(text, readiness=False)


def parse_positive_seconds(text: str) -> float:
    """A number of seconds > 0 (a period of 0 would poll in a busy loop)."""
    number = v.parse_seconds(text) if text.strip() else -1.0
    if number <= 0:
        raise ValueError(f"expected a number of seconds > 0, got '{text}'")
    return number


def parse_factor(text: str) -> float:
    try:
        number = float(text.strip())
    except ValueError:
        number = 0.0
    if not 1.0 <= number < float("inf"):
        raise ValueError(f"expected a factor >= 1 (1: constant, 2: doubling), got '{text}'")
    return number


def parse_fraction(text: str) -> float:
    try:
        number = float(text.strip())
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"expected a fraction between 0 and 1 (0.1: +/- 10 %), got '{text}'")
    return number


def parse_failure_action(text: str) -> str:
    """``restart``, ``stop`` or a command (parsed now, so a bad quote is a config error)."""
    body = text.strip()
    if body.lower() in ("restart", "stop"):
        return body.lower()
    return parse_command_action(body)


def parse_command_action(text: str) -> str:
    body = text.strip()
    try:
        argv = shlex.split(body)
    except ValueError as exc:
        raise ValueError(f"expected a command, got '{text}' ({exc})") from None
    if not argv:
        raise ValueError(f"expected a command, got '{text}'")
    return body


# --- readers ---


def read_readiness(r: SectionReader, names: ExpansionNames) -> ReadinessConfig:
    probe = r.parse("readiness_check", parse_readiness_check, names, None)
    watchdog = r.parse("readiness_watchdog_sec", v.parse_seconds, names, 0.0)
    if watchdog and (probe is None or probe.kind != "notify"):
        report(r.error("readiness_watchdog_sec needs readiness_check = notify", "readiness_watchdog_sec"))
        watchdog = 0.0
    return ReadinessConfig(
        probe=probe,
        period=r.parse("readiness_check_period", parse_positive_seconds, names, 1.0),
        watchdog_sec=watchdog,
    )


def read_liveness(r: SectionReader, names: ExpansionNames) -> LivenessConfig:
    p = "liveness_check_"
    return LivenessConfig(
        probe=r.parse(p + "script", parse_liveness_check, names, None),
        initial_delay=r.parse(p + "initial_delay", v.parse_seconds, names, 60.0),
        period=r.parse(p + "period", parse_positive_seconds, names, 60.0),
        timeout=r.parse(p + "timeout", parse_positive_seconds, names, 30.0),
        success_threshold=r.parse(p + "success_threshold", v.int_at_least(1), names, 1),
        failure_threshold=r.parse(p + "failure_threshold", v.int_at_least(1), names, 3),
        success_action=r.parse(p + "success_action", parse_command_action, names, None),
        failure_action=r.parse(p + "failure_action", parse_failure_action, names, "restart"),
    )


def read_backoff(r: SectionReader, names: ExpansionNames) -> BackoffConfig:
    top = r.parse("backoff_max", parse_positive_seconds, names, float("inf"))
    return BackoffConfig(
        initial=r.parse("backoff_initial", v.parse_seconds, names, 1.0),
        factor=r.parse("backoff_factor", parse_factor, names, None),
        max=top,
        jitter=r.parse("backoff_jitter", parse_fraction, names, 0.0),
        reset_after=r.parse("backoff_reset_after", v.parse_seconds, names, 0.0),
    )


# --- shown in getAllConfigInfo ---


def check_info(proc: ProcessConfig) -> dict[str, object]:
    """The keys of this module as ``getAllConfigInfo`` shows them (XML-RPC safe: no None, no inf).

    An unset probe or command reads ``"none"``, an unset ``backoff_factor`` ``"linear"`` (Supervisor's
    ramp), an unlimited ``backoff_max`` 0 and ``startretries = forever`` stays -1 in ``startretries``.
    """
    readiness, liveness, backoff = proc.readiness, proc.liveness, proc.backoff
    return {
        "readiness_check": str(readiness.probe) if readiness.probe else "none",
        "readiness_check_period": readiness.period,
        "readiness_watchdog_sec": readiness.watchdog_sec,
        "liveness_check_script": str(liveness.probe) if liveness.probe else "none",
        "liveness_check_initial_delay": liveness.initial_delay,
        "liveness_check_period": liveness.period,
        "liveness_check_timeout": liveness.timeout,
        "liveness_check_success_threshold": liveness.success_threshold,
        "liveness_check_failure_threshold": liveness.failure_threshold,
        "liveness_check_success_action": liveness.success_action or "none",
        "liveness_check_failure_action": liveness.failure_action,
        "backoff_initial": backoff.initial,
        "backoff_factor": backoff.factor if backoff.factor is not None else "linear",
        "backoff_max": backoff.max if backoff.max != float("inf") else 0,
        "backoff_jitter": backoff.jitter,
        "backoff_reset_after": backoff.reset_after,
    }
