"""``supervisord init``: the config it writes checks clean, names only real keys, and runs the real daemon."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from harness import TAG_VAR, run_cli, tagged_pids, wait_for
from rpcutil import free_port, proxy

from supervisord.config.groups import GROUP_KEYS
from supervisord.config.loader import INCLUDE_KEYS
from supervisord.config.programs import EVENTLISTENER_KEYS, PROGRAM_KEYS
from supervisord.config.server_sections import CTL_KEYS, INET_HTTP_KEYS, SUPERVISORD_KEYS, UNIX_HTTP_KEYS
from supervisord.initconf import TEMPLATE


def test_init_writes_a_config_that_checks_clean_and_is_not_overwritten(tmp_path: Path) -> None:
    proc = run_cli("init", "-o", "supervisord.conf", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    conf = tmp_path / "supervisord.conf"
    assert conf.read_text() == TEMPLATE
    check = run_cli("check", "-c", str(conf), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout == "" and "warning" not in check.stderr, check.stderr
    conf.write_text("mine\n")
    again = run_cli("init", "-o", "supervisord.conf", cwd=tmp_path)
    assert again.returncode == 1 and "exists (use --force" in again.stderr
    assert conf.read_text() == "mine\n"
    assert run_cli("init", "-o", "supervisord.conf", "--force", cwd=tmp_path).returncode == 0
    assert conf.read_text() == TEMPLATE
    assert run_cli("init", cwd=tmp_path).stdout == TEMPLATE


def test_every_key_the_template_mentions_is_one_the_loader_knows() -> None:
    known = {
        "unix_http_server": UNIX_HTTP_KEYS,
        "inet_http_server": INET_HTTP_KEYS,
        "supervisord": SUPERVISORD_KEYS,
        "supervisorctl": CTL_KEYS,
        "program-default": PROGRAM_KEYS,
        "program": PROGRAM_KEYS,
        "group": GROUP_KEYS,
        "eventlistener": EVENTLISTENER_KEYS,
        "include": INCLUDE_KEYS,
        "rpcinterface": {"supervisor.rpcinterface_factory"},
    }
    seen_sections: set[str] = set()
    section = ""
    mentioned = 0
    for line in TEMPLATE.splitlines():
        header = re.match(r"^;?\[([^\]:]+)(?::[^\]]*)?\]", line)
        if header:
            section = header.group(1)
            seen_sections.add(section)
            continue
        key = re.match(r"^;?([A-Za-z_.]+) = ", line)
        if key:
            mentioned += 1
            assert key.group(1).lower() in known[section], f"[{section}] {key.group(1)}"
    assert seen_sections == set(known)
    assert mentioned > 80


def test_the_daemon_runs_on_the_template(tmp_path: Path) -> None:
    """The generated file as is (only the TCP port made free): socket, ctl, start, stop, clean exit."""
    conf = tmp_path / "supervisord.conf"
    port = free_port()
    conf.write_text(TEMPLATE.replace("127.0.0.1:9001", f"127.0.0.1:{port}"))
    tag = f"init-{os.getpid()}"
    env = {**os.environ, TAG_VAR: tag}
    with open(tmp_path / "out", "wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "supervisord", "-c", str(conf), "-n"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: (tmp_path / "supervisor.sock").exists() or daemon.poll() is not None, 20, what="socket"
        )
        assert daemon.poll() is None, (tmp_path / "out").read_text()
        status = run_cli("ctl", "-c", str(conf), "status", cwd=tmp_path)
        assert re.match(r"examples:example\s+STOPPED", status.stdout), status.stdout + status.stderr
        assert run_cli("ctl", "-c", str(conf), "start", "examples:example", cwd=tmp_path).returncode == 0
        info = proxy(port).supervisor.getProcessInfo("examples:example")
        assert info["statename"] == "RUNNING"
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
        assert (tmp_path / "supervisord.log").exists() and (tmp_path / "supervisord.pid").exists() is False
        wait_for(lambda: not tagged_pids(tag), 5, what="no child left")
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(5)


def test_the_operations_keys_are_offered_and_check_clean_when_uncommented(tmp_path: Path) -> None:
    """Issue 17's keys are in the example program, each with its explanation, and valid as written."""
    from supervisord.config.checks import KEYS as CHECK_KEYS
    from supervisord.config.operations import OPERATIONS_KEYS

    block = TEMPLATE.split("; Operations", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    keys = {line[1:].split(" = ", 1)[0] for line in block}
    logs = {
        f"{ch}_{k}"
        for ch in ("stdout", "stderr")
        for k in ("log_format", "logfile_rotate", "logfile_compress")
    }
    assert keys == set(CHECK_KEYS | OPERATIONS_KEYS | logs)
    assert all(line.startswith(";") and " ; " in line for line in block), block  # commented, explained
    assert (
        ";startretries = 3                 ; failed starts before FATAL; forever: never give up" in TEMPLATE
    )
    uncommented = TEMPLATE.replace("\n".join(block), "\n".join(line[1:] for line in block))
    conf = tmp_path / "supervisord.conf"
    conf.write_text(uncommented)
    check = run_cli("check", "-c", str(conf), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
