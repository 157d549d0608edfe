"""The operations keys' parsers, the line formatter and clock rotation, without a daemon."""

from __future__ import annotations

import datetime
import gzip
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from supervisord.config import operations as ops
from supervisord.config.loader import load_config
from supervisord.config.model import ScheduleConfig
from supervisord.logformat import LineFormatter
from supervisord.logtargets import FileTarget, next_boundary


def test_cron_accepts_five_and_six_fields_and_says_what_it_expected() -> None:
    assert ops.parse_cron("*/5  * * * *") == "*/5 * * * *"
    assert ops.parse_cron("*/2 * * * * *") == "*/2 * * * * *"
    for bad in ("", "* * * *", "61 * * * * *", "* * * * * * * *", "every minute"):
        with pytest.raises(ValueError, match="expected a cron expression of 5 fields"):
            ops.parse_cron(bad)
    with pytest.raises(ValueError, match="matches some date"):
        ops.parse_cron("0 0 31 2 *")


def test_six_fields_put_seconds_first_like_the_go_project() -> None:
    start = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    schedule = ScheduleConfig(cron="30 * * * * *", timezone="UTC")
    assert ops.next_run(schedule, start) == datetime.datetime(2026, 1, 1, 12, 0, 30, tzinfo=datetime.UTC)


def test_the_time_zone_is_explicit() -> None:
    start = datetime.datetime(2026, 1, 1, 0, 0, 0, tzinfo=datetime.UTC)
    paris = ScheduleConfig(cron="0 9 * * *", timezone="Europe/Paris")
    run = ops.next_run(paris, start)
    assert run.astimezone(datetime.UTC) == datetime.datetime(2026, 1, 1, 8, 0, tzinfo=datetime.UTC)
    assert ops.parse_timezone("local") == ""
    with pytest.raises(ValueError, match="IANA time zone"):
        ops.parse_timezone("Mars/Olympus")


def test_a_missed_run_is_not_replayed() -> None:
    """The next run is always computed from the present: a start long after a run time skips it."""
    schedule = ScheduleConfig(cron="0 * * * *", timezone="UTC")
    late = datetime.datetime(2026, 1, 1, 12, 59, 59, tzinfo=datetime.UTC)
    assert ops.next_run(schedule, late) == datetime.datetime(2026, 1, 1, 13, 0, tzinfo=datetime.UTC)


def test_limit_values() -> None:
    assert ops.parse_rlimit("4096") == 4096
    assert ops.parse_rlimit("unlimited") == -1
    assert ops.parse_rlimit("1GB") == 1 << 30
    with pytest.raises(ValueError):
        ops.parse_rlimit("-5")
    assert ops.parse_cpu_max("50%") == "50000 100000"
    assert ops.parse_cpu_max("max") == "max 100000"
    assert ops.parse_cpu_max("20000 50000") == "20000 50000"
    with pytest.raises(ValueError, match="CPU limit"):
        ops.parse_cpu_max("fast")
    with pytest.raises(ValueError, match="> 0"):
        ops.parse_memory_max("0")
    with pytest.raises(ValueError, match="> 0"):
        ops.parse_hook_timeout("0")
    assert ops.parse_hook_timeout("0.5") == 0.5


def test_bad_values_are_config_errors_with_file_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "sv.conf"
    conf.write_text(
        textwrap.dedent(
            """\
            [supervisord]
            [program-default]
            stdout_log_format = yaml
            [program:a]
            command = /bin/cat
            cron = sometimes
            cron_timezone = Nowhere/Land
            hook_timeout = soon
            pre_stop_hook = "unclosed
            rlimit_nofile = many
            cpu_max = 50%%
            stdout_logfile_compress = zip
            stdout_logfile_rotate = weekly
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "supervisord", "check", "-c", str(conf)], capture_output=True, text=True
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0
    for line, key in (
        (3, "stdout_log_format"),
        (6, "cron"),
        (7, "cron_timezone"),
        (8, "hook_timeout"),
        (9, "pre_stop_hook"),
        (10, "rlimit_nofile"),
        (12, "stdout_logfile_compress"),
        (13, "stdout_logfile_rotate"),
    ):
        section = "program-default" if line == 3 else "program:a"
        assert f"{conf}:{line}: [{section}] {key}: expected" in out, (key, out)
    assert "cpu_max" not in out


def test_keys_reach_the_process_config(tmp_path: Path) -> None:
    conf = tmp_path / "sv.conf"
    conf.write_text(
        "[supervisord]\n[program-default]\nhook_timeout = 5\nrlimit_core = 0\n"
        "[program:a]\ncommand = /bin/cat\ncron = 0 3 * * *\npost_stop_hook = /bin/true\n"
        "memory_max = 64MB\npids_max = 10\nstderr_log_format = timestamped\nstderr_logfile_rotate = daily\n"
    )
    proc = load_config(str(conf)).groups[0].processes[0]
    assert proc.schedule == ScheduleConfig(cron="0 3 * * *", timezone=None)
    assert (proc.hooks.post_stop, proc.hooks.timeout) == ("/bin/true", 5.0)
    assert proc.limits.rlimits == (("core", 0),)
    assert (proc.limits.memory_max, proc.limits.pids_max) == (64 << 20, 10)
    assert (proc.stderr.log_format, proc.stderr.rotate_every) == ("timestamped", "daily")
    assert proc.stdout.log_format == "raw" and not proc.stdout.compress


def test_json_formatter_flags_a_line_cut_at_the_cap_and_an_unended_last_line() -> None:
    f = LineFormatter("json", "web", "web_01", "stderr", max_line=10, clock=lambda: 0.0)
    out = f.feed(b"short\n0123456789abc") + f.feed(b"def\nlast")
    out += f.flush()
    records = [json.loads(line) for line in out.decode().splitlines()]
    assert [(r["line"], r.get("partial", False)) for r in records] == [
        ("short", False),
        ("0123456789", True),
        ("abcdef", True),
        ("last", True),
    ]
    assert records[0] == {
        "time": "1970-01-01T00:00:00.000+00:00",
        "program": "web",
        "process": "web_01",
        "stream": "stderr",
        "line": "short",
    }


def test_timestamped_formatter_keeps_the_bytes() -> None:
    f = LineFormatter("timestamped", "p", "p", "stdout", clock=lambda: 1_700_000_000.25)
    out = f.feed(b"caf\xe9\npartial")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1_700_000_000))
    assert out == f"{stamp},250 ".encode() + b"caf\xe9\n"
    assert f.pending == b"partial"


def test_clock_rotation_rotates_at_the_boundary(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    target = FileTarget(str(path), 0, 3, compress=True, rotate_every="hourly")
    target.write(b"before\n")
    target.rotate_at = time.time() - 1  # the hour has turned
    target.write(b"after\n")
    target.close()  # waits for the compression
    assert path.read_bytes() == b"after\n"
    assert gzip.decompress((tmp_path / "app.log.1.gz").read_bytes()) == b"before\n"
    assert not (tmp_path / "app.log.1").exists()
    assert target.rotate_at > time.time()


def test_next_boundary() -> None:
    now = datetime.datetime(2026, 3, 4, 10, 15, 0).timestamp()
    assert next_boundary("hourly", now) == datetime.datetime(2026, 3, 4, 11, 0, 0).timestamp()
    assert next_boundary("daily", now) == datetime.datetime(2026, 3, 5, 0, 0, 0).timestamp()
