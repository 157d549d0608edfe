"""``supervisord check``: every error of a config and its includes, located, without starting anything."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from harness import run_cli

MAIN = """\
[supervisord]
logfile = {tmp}/sv.log
pidfile = {tmp}/sv.pid
logfile_backups = lots
[include]
files = conf.d/*.conf
[program:a]
command = /bin/sleep 600
startsecs = soon
stopasgroup = true
killasgroup = false
[program:b]
startretries = 3
[group:g]
programs = a,zzz
[inet_http_server]
port = 127.0.0.1:notaport
"""
INCLUDED = """\
[program:c]
command = /bin/sleep %(nope)s
autostart = maybe
this is not a key
[bad
x = 1
[program:d]
command = /bin/sleep 600
"""


def write_bad_config(tmp: Path) -> Path:
    (tmp / "conf.d").mkdir()
    (tmp / "conf.d" / "c.conf").write_text(INCLUDED)
    main = tmp / "main.conf"
    main.write_text(MAIN.format(tmp=tmp))
    return main


def test_check_prints_every_error_of_the_file_and_its_includes_in_reading_order(tmp_path: Path) -> None:
    main = write_bad_config(tmp_path)
    inc = tmp_path / "conf.d" / "c.conf"
    proc = run_cli("check", "-c", str(main), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [
        f"{main}:4:",
        f"{main}:9:",
        f"{main}:11:",
        f"{main}:12:",
        f"{main}:15:",
        f"{main}:17:",
        f"{inc}:2:",
        f"{inc}:3:",
        f"{inc}:4:",
        f"{inc}:5:",
    ], proc.stdout
    assert lines[0] == f"{main}:4: [supervisord] logfile_backups: expected an integer >= 0, got 'lots'"
    assert lines[1].startswith(f"{main}:9: [program:a] startsecs: expected")
    assert (
        lines[2] == f"{main}:11: [program:a] killasgroup: Cannot set stopasgroup=true and killasgroup=false"
    )
    assert "[program:b]" in lines[3] and "does not specify a command" in lines[3]
    assert lines[4].startswith(f"{main}:15: [group:g] names unknown program zzz")
    assert lines[5].startswith(f"{main}:17: [inet_http_server] port: expected")
    assert "[program:c] command: Format string" in lines[6] and "'nope'" in lines[6]
    assert lines[7].startswith(f"{inc}:3: [program:c] autostart: expected a boolean")
    assert lines[8] == f"{inc}:4: [program:c] expected 'key = value' or 'key: value', got 'this is not a key'"
    assert lines[9] == f"{inc}:5: expected a section header like '[name]', got '[bad'"
    assert f"{main}: 10 error(s)" in proc.stderr
    # Nothing was started: no log file, no pid file.
    assert not (tmp_path / "sv.log").exists() and not (tmp_path / "sv.pid").exists()


def test_the_daemon_still_stops_at_the_first_error_with_supervisors_message(tmp_path: Path) -> None:
    main = write_bad_config(tmp_path)
    proc = run_cli("-c", str(main), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"Error: {tmp_path / 'conf.d' / 'c.conf'}:4: [program:c] expected 'key = value' or 'key: value', "
        "got 'this is not a key'",
        "For help, use supervisord -h",
    ]


def test_a_good_config_checks_clean_with_warnings_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "x.conf").write_text(
        "[program:x]\ncommand = /bin/true\nnumprocs = 2\nprocess_name = x%(process_num)d\n"
    )
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            [supervisord]
            logfile = {tmp_path}/sv.log
            pidfile = {tmp_path}/sv.pid
            colour = blue
            [include]
            files = conf.d/*.conf
            """
        )
    )
    proc = run_cli("check", cwd=tmp_path)  # found in the current directory, like the daemon finds it
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert f"warning: {conf}:4: [supervisord] colour: unknown key, ignored" in proc.stderr
    assert f"{conf}: OK (2 file(s), 2 process(es))" in proc.stderr
    assert not (tmp_path / "sv.log").exists()


def test_check_of_a_missing_file_or_a_file_without_supervisord_section(tmp_path: Path) -> None:
    proc = run_cli("check", "-c", "nope.conf", cwd=tmp_path)
    assert proc.returncode == 2
    assert (
        proc.stdout.strip() == f"{tmp_path / 'nope.conf'}: cannot read config file: No such file or directory"
    )
    conf = tmp_path / "x.conf"
    conf.write_text("[program:x]\ncommand = /bin/true\nautostart = sometimes\n")
    proc = run_cli("-c", str(conf), "check", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        f"{conf}: .ini file does not include supervisord section (expected a [supervisord] section)",
        f"{conf}:3: [program:x] autostart: expected a boolean (true/false, yes/no, on/off, 1/0), got 'sometimes'",
    ]
    assert os.listdir(tmp_path) == ["x.conf"]


def test_the_shipped_example_configs_check_clean(tmp_path: Path) -> None:
    examples = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.conf"))
    assert examples
    for conf in examples:
        proc = run_cli("check", "-c", str(conf), cwd=tmp_path)
        assert proc.returncode == 0, f"{conf}: {proc.stdout}{proc.stderr}"


def test_numprocs_above_the_bound_is_refused(tmp_path: Path) -> None:
    """numprocs = 100000 (a typo) would be ~2 GB of state and 600,000 descriptors: refused at load, exit 2."""
    conf = tmp_path / "sv.conf"
    conf.write_text(
        "[supervisord]\n[program:w]\ncommand = /bin/sleep 600\n"
        "process_name = w%(process_num)d\nnumprocs = 100000\n"
    )
    proc = run_cli("check", "-c", str(conf), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert f"{conf}:5:" in proc.stdout and "[program:w] numprocs" in proc.stdout, proc.stdout
    assert "expected at most 10,000 processes" in proc.stdout, proc.stdout
    conf.write_text(conf.read_text().replace("100000", "3"))
    assert run_cli("check", "-c", str(conf), cwd=tmp_path).returncode == 0
