"""``supervisord service``: the systemd unit it writes (under ``--root``) and the systemctl calls it makes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import TAG_VAR, tagged_pids, wait_for

from supervisord.service import default_nproc, render_unit, systemd_quote

UNIT = Path("etc/systemd/system/supervisord.service")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.pop("SUPERVISORD_SERVICE_ROOT", None)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "supervisord", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def unit_keys(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_install_writes_a_foreground_unit_for_the_absolute_config(tmp_path: Path) -> None:
    (tmp_path / "supervisord.conf").write_text("[supervisord]\n")
    root = tmp_path / "root"
    proc = run("-c", "supervisord.conf", "service", "install", "--root", str(root), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Succeed to install service supervisord"
    unit = root / UNIT
    keys = unit_keys(unit.read_text())
    exec_start = keys["ExecStart"].split()
    assert exec_start[-3:] == ["-c", str(tmp_path / "supervisord.conf"), "-n"]
    program = exec_start[0]
    assert os.path.dirname(program) == os.path.dirname(sys.executable) or program == sys.executable
    assert keys["KillMode"] == "mixed"
    assert keys["Restart"] == "on-failure"
    assert keys["Type"] == "notify"
    assert keys["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert keys["WantedBy"] == "multi-user.target"
    assert oct(unit.stat().st_mode & 0o777) == "0o644"


def test_install_uses_the_auto_detected_config_and_the_env_root(tmp_path: Path) -> None:
    (tmp_path / "supervisord.conf").write_text("[supervisord]\n")
    root = tmp_path / "r2"
    proc = run("service", "install", cwd=tmp_path, env={"SUPERVISORD_SERVICE_ROOT": str(root)})
    assert proc.returncode == 0, proc.stderr
    assert f"-c {tmp_path / 'supervisord.conf'} -n" in (root / UNIT).read_text()


def test_install_passes_the_env_file_on(tmp_path: Path) -> None:
    (tmp_path / "supervisord.conf").write_text("[supervisord]\n")
    (tmp_path / "prod.env").write_text("A=1\n")
    root = tmp_path / "r3"
    proc = run(
        "-c",
        "supervisord.conf",
        "--env-file",
        "prod.env",
        "service",
        "install",
        "--root",
        str(root),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"--env-file {tmp_path / 'prod.env'}" in (root / UNIT).read_text()


def test_install_without_a_config_fails(tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = run("-c", "missing.conf", "service", "install", "--root", str(root), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Failed to install service supervisord" in proc.stderr
    assert not (root / UNIT).exists()


def test_uninstall_removes_the_unit(tmp_path: Path) -> None:
    (tmp_path / "supervisord.conf").write_text("[supervisord]\n")
    root = tmp_path / "root"
    assert (
        run("-c", "supervisord.conf", "service", "install", "--root", str(root), cwd=tmp_path).returncode == 0
    )
    proc = run("service", "uninstall", "--root", str(root), cwd=tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, "Succeed to uninstall service supervisord")
    assert not (root / UNIT).exists()
    proc = run("service", "uninstall", "--root", str(root), cwd=tmp_path)
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_start_and_stop_call_systemctl(tmp_path: Path) -> None:
    record = tmp_path / "calls"
    fake = tmp_path / "systemctl"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {record}\n[ "$1" != stop ] || exit 3\n')
    fake.chmod(0o755)
    env = {"SUPERVISORD_SYSTEMCTL": str(fake)}
    proc = run("service", "start", cwd=tmp_path, env=env)
    assert (proc.returncode, proc.stdout.strip()) == (0, "Succeed to start service supervisord")
    proc = run("service", "stop", cwd=tmp_path, env=env)
    assert proc.returncode == 1 and "Failed to stop service supervisord" in proc.stderr
    assert record.read_text().splitlines() == ["start supervisord", "stop supervisord"]


def test_bad_action_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("service", "frobnicate", cwd=tmp_path)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_systemd_quoting() -> None:
    assert systemd_quote("/usr/bin/supervisord") == "/usr/bin/supervisord"
    assert systemd_quote("/etc/my confs/a.conf") == '"/etc/my confs/a.conf"'
    assert systemd_quote('say "hi"') == '"say \\"hi\\""'
    assert systemd_quote("100%") == "100%%"
    assert systemd_quote("$HOME") == '"$$HOME"'
    assert "ExecStart=" in render_unit("/etc/my confs/a.conf")
    assert '"/etc/my confs/a.conf" -n' in render_unit("/etc/my confs/a.conf")


def test_install_takes_the_limits_from_minfds_and_minprocs(tmp_path: Path) -> None:
    """A bare ``LimitNOFILE=1024`` caps the hard limit, so ``minfds`` above it could never be honoured."""
    (tmp_path / "supervisord.conf").write_text("[supervisord]\nminfds = 200000\nminprocs = 900000000\n")
    root = tmp_path / "root"
    proc = run("-c", "supervisord.conf", "service", "install", "--root", str(root), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    keys = unit_keys((root / UNIT).read_text())
    assert keys["LimitNOFILE"] == "200000:524288"
    assert keys["LimitNPROC"] == "900000000:infinity"


def test_install_never_lowers_the_default_limits(tmp_path: Path) -> None:
    (tmp_path / "supervisord.conf").write_text("[supervisord]\nminfds = 10\nminprocs = 10\n")
    root = tmp_path / "root"
    proc = run("-c", "supervisord.conf", "service", "install", "--root", str(root), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    keys = unit_keys((root / UNIT).read_text())
    assert keys["LimitNOFILE"] == "1024:524288"  # systemd's own default for a unit without the key
    soft, hard = keys["LimitNPROC"].split(":")
    assert int(soft) == default_nproc() and int(soft) > 10 and hard == "infinity"
    big = render_unit("/etc/s.conf", minfds=1_000_000, minprocs=5)
    assert "LimitNOFILE=1000000:1000000\n" in big


def test_install_refuses_a_config_that_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "supervisord.conf").write_text("[supervisord]\nminfds = lots\n")
    root = tmp_path / "root"
    proc = run("-c", "supervisord.conf", "service", "install", "--root", str(root), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Failed to install service supervisord" in proc.stderr and "minfds" in proc.stderr
    assert not (root / UNIT).exists()


@pytest.mark.skipif(
    not shutil.which("systemd-analyze"), reason="systemd-analyze missing (apt package systemd)"
)
def test_the_generated_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    (tmp_path / "supervisord.conf").write_text("[supervisord]\n")
    root = tmp_path / "root"
    assert (
        run("-c", "supervisord.conf", "service", "install", "--root", str(root), cwd=tmp_path).returncode == 0
    )
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(root / UNIT)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == "", verify.stderr
    # The same check fails on a broken unit, so it does look at ours.
    broken = tmp_path / "broken.service"
    broken.write_text((root / UNIT).read_text().replace("Type=notify", "Type=notifyy"))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert "Failed to parse service type" in verify.stderr


@pytest.mark.skipif(
    os.path.isdir("/run/systemd/system"), reason="systemd runs here: start would really start"
)
def test_start_without_systemd_is_a_clear_error(tmp_path: Path) -> None:
    proc = run("service", "start", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Error: systemd is not running on this host (no /run/systemd/system)" in proc.stderr
    assert "--sysv" in proc.stderr


def test_sysv_init_script_starts_reports_reloads_and_stops_the_daemon(tmp_path: Path) -> None:
    conf = tmp_path / "supervisord.conf"
    pidfile = tmp_path / "sv.pid"
    conf.write_text(
        f"[supervisord]\nlogfile = {tmp_path}/sv.log\npidfile = {pidfile}\n"
        f"[unix_http_server]\nfile = {tmp_path}/sv.sock\n"
        "[program:sleeper]\ncommand = sleep 1000\nstartsecs = 0\n"
    )
    root = tmp_path / "root"
    proc = run("-c", str(conf), "service", "install", "--sysv", "--root", str(root), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    script = root / "etc/init.d/supervisord"
    assert oct(script.stat().st_mode & 0o777) == "0o755"
    tag = f"sysv-{os.getpid()}"
    env = {**os.environ, TAG_VAR: tag}

    def sh(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(script), action], capture_output=True, text=True, timeout=90, env=env, cwd=tmp_path
        )

    try:
        assert sh("status").returncode == 3
        started = sh("start")
        assert started.returncode == 0, started.stdout + started.stderr
        pid = int(pidfile.read_text())
        status = sh("status")
        assert (status.returncode, status.stdout.strip()) == (0, f"supervisord is running (pid {pid})")
        wait_for(
            lambda: "success: sleeper entered RUNNING" in (tmp_path / "sv.log").read_text(), what="running"
        )
        assert sh("start").stdout.strip() == "supervisord is already running"
        assert sh("reload").returncode == 0
        wait_for(
            lambda: (tmp_path / "sv.log").read_text().count("success: sleeper entered RUNNING") == 2,
            30,
            what="the reload to finish",
        )
        stopped = sh("stop")
        log = (tmp_path / "sv.log").read_text()
        assert (stopped.returncode, stopped.stdout.strip()) == (0, "supervisord stopped"), log
        assert not os.path.exists(f"/proc/{pid}") or b"Z" in Path(f"/proc/{pid}/stat").read_bytes()
        assert sh("status").returncode == 3
        wait_for(lambda: not tagged_pids(tag), 5, what="nothing left running")
    finally:
        for leftover in tagged_pids(tag):
            os.kill(leftover, 9)
    assert run("service", "uninstall", "--sysv", "--root", str(root), cwd=tmp_path).returncode == 0
    assert not script.exists()


def test_sysv_init_script_counts_an_unreaped_daemon_as_stopped(tmp_path: Path) -> None:
    """An init that reaps lazily leaves the exited daemon a zombie for a while: ``kill -0`` still succeeds."""
    conf = tmp_path / "supervisord.conf"
    pidfile = tmp_path / "sv.pid"
    conf.write_text(f"[supervisord]\npidfile = {pidfile}\n")
    root = tmp_path / "root"
    assert (
        run("-c", str(conf), "service", "install", "--sysv", "--root", str(root), cwd=tmp_path).returncode
        == 0
    )
    script = root / "etc/init.d/supervisord"
    zombie = subprocess.Popen(["true"])  # exits at once; not waited for, so it stays a zombie of ours
    try:
        wait_for(
            lambda: Path(f"/proc/{zombie.pid}/stat").read_bytes().rsplit(b") ", 1)[1][:1] == b"Z",
            what="the child to be a zombie",
        )
        pidfile.write_text(f"{zombie.pid}\n")
        for action, code, said in (
            ("status", 3, "supervisord is not running"),
            ("stop", 0, "supervisord is not running"),
        ):
            done = subprocess.run(["sh", str(script), action], capture_output=True, text=True, timeout=30)
            assert (done.returncode, done.stdout.strip()) == (code, said)
    finally:
        zombie.wait()
