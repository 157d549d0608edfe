"""The operations keys of a program: ``cron``, the four hooks, rlimits and cgroup limits.

Kept out of :mod:`supervisord.config.programs` so that file only gains one line per group of keys; the
parsers are location-free like :mod:`supervisord.config.values` (a ``ValueError`` says what was expected and
what was found, the section reader adds file, line and key).
"""

from __future__ import annotations

import datetime
import re

from supervisord.config import values as v
from supervisord.config.errors import report
from supervisord.config.expand import ExpansionNames
from supervisord.config.model import HookConfig, LimitsConfig, ProcessConfig, ScheduleConfig
from supervisord.config.section import SectionReader
from supervisord.runtime.spawn import SpawnError, parse_command

HOOK_KEYS = ("pre_start_hook", "post_start_hook", "pre_stop_hook", "post_stop_hook")
RLIMIT_KEYS = ("rlimit_nofile", "rlimit_core", "rlimit_nproc", "rlimit_as")
CGROUP_KEYS = ("memory_max", "cpu_max", "pids_max")
OPERATIONS_KEYS = frozenset({"cron", "cron_timezone", "hook_timeout", *HOOK_KEYS, *RLIMIT_KEYS, *CGROUP_KEYS})
_UNLIMITED = frozenset({"unlimited", "infinity", "-1"})
_CPU_MAX = re.compile(r"(max|[0-9]+)(?:\s+([0-9]+))?")
_CPU_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)%")


def parse_cron(text: str) -> str:
    """A cron expression of 5 fields (minute first) or 6 fields (seconds first, like the Go project's)."""
    from croniter import croniter

    body = " ".join(text.split())
    fields = len(body.split(" "))
    if fields not in (5, 6) or not croniter.is_valid(body, second_at_beginning=True):
        raise ValueError(
            "expected a cron expression of 5 fields (minute hour day month weekday) or 6 fields "
            f"(second minute hour day month weekday), got '{text}'"
        )
    try:  # a valid expression may still never match (0 0 31 2 *): say so now, not at run time
        croniter(body, datetime.datetime.now(datetime.UTC), second_at_beginning=True).get_next(float)
    except ValueError:  # croniter's CroniterBadDateError
        raise ValueError(f"expected a cron expression that matches some date, got '{text}'") from None
    return body


def parse_timezone(text: str) -> str:
    """An IANA time zone name (``UTC``, ``Europe/Paris``) or ``local``; ``local`` is returned as ''."""
    import zoneinfo  # here: with sysconfig, ~200 KB a config without cron_timezone never needs

    name = text.strip()
    if name.lower() == "local":
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        raise ValueError(
            f"expected an IANA time zone like UTC or Europe/Paris, or local, got '{text}'"
        ) from None
    return name


def parse_rlimit(text: str) -> int:
    """A limit number (``unlimited``/``infinity``/``-1`` for no limit); one number sets soft and hard."""
    body = text.strip().lower()
    if body in _UNLIMITED:
        return -1
    return v.parse_byte_size(text) if body[-2:] in ("kb", "mb", "gb") else v.parse_int(text, minimum=0)


def parse_memory_max(text: str) -> int:
    """``memory_max``: a byte size (``512MB``); 0 is refused (it would kill the process at once)."""
    number = v.parse_byte_size(text)
    if number == 0:
        raise ValueError(f"expected a byte size > 0 like 256MB, got '{text}'")
    return number


def parse_cpu_max(text: str) -> str:
    """``cpu_max``: ``50%`` (of one CPU), or cgroup's own ``QUOTA [PERIOD]`` in microseconds, or ``max``."""
    body = text.strip()
    percent = _CPU_PERCENT.fullmatch(body)
    if percent:
        share = float(percent.group(1))
        if share <= 0:
            raise ValueError(f"expected a CPU share > 0%, got '{text}'")
        return f"{max(1000, round(share * 1000))} 100000"
    match = _CPU_MAX.fullmatch(" ".join(body.split()))
    if match is None:
        raise ValueError(f"expected a CPU limit like 50%, 150%, '50000 100000' or max, got '{text}'")
    quota, period = match.group(1), match.group(2) or "100000"
    if quota != "max" and int(quota) < 1000:
        raise ValueError(f"expected a quota >= 1000 microseconds, got '{text}'")
    if not 1000 <= int(period) <= 1_000_000:
        raise ValueError(f"expected a period between 1000 and 1000000 microseconds, got '{text}'")
    return f"{quota} {period}"


def parse_hook_timeout(text: str) -> float:
    """Seconds a hook may run; 0 would kill every hook at once, so it is refused."""
    seconds = v.parse_seconds(text)
    if seconds <= 0:
        raise ValueError(f"expected a number of seconds > 0, got '{text}'")
    return seconds


def read_schedule(r: SectionReader, names: ExpansionNames) -> ScheduleConfig:
    cron = r.parse("cron", parse_cron, names, None)
    tz = r.parse("cron_timezone", parse_timezone, names, "")
    return ScheduleConfig(cron=cron, timezone=tz or None)


def read_hooks(r: SectionReader, names: ExpansionNames) -> HookConfig:
    commands = {key: r.string(key, names) for key in HOOK_KEYS}
    for key, command in commands.items():
        if command is not None:
            try:
                parse_command(command)
            except SpawnError as exc:
                report(r.error(f"expected a command, {exc}", key))
                commands[key] = None
    return HookConfig(
        pre_start=commands["pre_start_hook"],
        post_start=commands["post_start_hook"],
        pre_stop=commands["pre_stop_hook"],
        post_stop=commands["post_stop_hook"],
        timeout=r.parse("hook_timeout", parse_hook_timeout, names, 60.0),
    )


def read_limits(r: SectionReader, names: ExpansionNames) -> LimitsConfig:
    rlimits: list[tuple[str, int]] = []
    for key in RLIMIT_KEYS:
        value = r.parse(key, parse_rlimit, names, None)
        if value is not None:
            rlimits.append((key.removeprefix("rlimit_"), value))
    return LimitsConfig(
        rlimits=tuple(rlimits),
        memory_max=r.parse("memory_max", parse_memory_max, names, None),
        cpu_max=r.parse("cpu_max", parse_cpu_max, names, None),
        pids_max=r.parse("pids_max", v.int_at_least(1), names, None),
    )


def next_run(schedule: ScheduleConfig, after: datetime.datetime) -> datetime.datetime:
    """The first scheduled time strictly after ``after`` (an aware datetime), in the schedule's zone."""
    import zoneinfo

    from croniter import croniter

    assert schedule.cron is not None
    zone = zoneinfo.ZoneInfo(schedule.timezone) if schedule.timezone else None
    start = after.astimezone(zone)  # None: the daemon's local zone
    result: datetime.datetime = croniter(schedule.cron, start, second_at_beginning=True).get_next(
        datetime.datetime
    )
    return result


def config_info(proc: ProcessConfig) -> dict[str, object]:
    """The operations keys a process sets, for ``getAllConfigInfo`` (unset keys are left out, so a
    Supervisor config answers exactly Supervisor's struct)."""
    info: dict[str, object] = {}
    if proc.schedule.cron:
        info["cron"] = proc.schedule.cron
        info["cron_timezone"] = proc.schedule.timezone or "local"
    hooks = proc.hooks
    for key, command in zip(
        HOOK_KEYS, (hooks.pre_start, hooks.post_start, hooks.pre_stop, hooks.post_stop), strict=True
    ):
        if command:
            info[key] = command
    if hooks.any:
        info["hook_timeout"] = hooks.timeout
    for name, value in proc.limits.rlimits:
        info[f"rlimit_{name}"] = "unlimited" if value < 0 else value
    if proc.limits.memory_max is not None:
        info["memory_max"] = proc.limits.memory_max
    if proc.limits.cpu_max is not None:
        info["cpu_max"] = proc.limits.cpu_max
    if proc.limits.pids_max is not None:
        info["pids_max"] = proc.limits.pids_max
    for channel, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        if stream.log_format != "raw":
            info[f"{channel}_log_format"] = stream.log_format
        if stream.compress:
            info[f"{channel}_logfile_compress"] = "gzip"
        if stream.rotate_every:
            info[f"{channel}_logfile_rotate"] = stream.rotate_every
    return info
