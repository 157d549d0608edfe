"""End to end: the real daemon runs real children; checked through its main log and the children's files."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from harness import proc_state, tagged_pids, wait_for

PY = sys.executable


def test_startsecs_then_running(daemon, tmp_path: Path) -> None:
    d = daemon(
        """
        [program:slow]
        command = sleep 1000
        startsecs = 1
        """
    )
    spawned = d.wait_log(r"spawned: 'slow' with pid \d+")[0]
    running = d.wait_log(r"success: slow entered RUNNING state, process has stayed up for > than 1 seconds")[
        0
    ]
    assert (
        0.95 <= running - spawned < 2
    )  # after startsecs, at its first check (the delay: scripts/bench runtime)
    assert d.stop() == 0


def test_backoff_ramp_then_fatal_exact_spawn_count(daemon) -> None:
    d = daemon(
        """
        [program:crash]
        command = sh -c 'exit 1'
        startsecs = 1
        startretries = 2
        """
    )
    d.wait_log(r"gave up: crash entered FATAL state, too many start retries too quickly", timeout=15)
    spawns = d.times(r"spawned: 'crash'")
    assert len(spawns) == 3  # startretries=2: exactly 3 spawns
    gaps = [b - a for a, b in itertools.pairwise(spawns)]
    assert 0.95 <= gaps[0] < 1.95 and 1.95 <= gaps[1] < 2.95, gaps  # backoff 1 s, then 2 s
    assert d.count(r"exited: crash \(exit status 1; not expected\)") == 3
    assert d.stop() == 0


def test_exit_status_kept(daemon, tmp_path: Path) -> None:
    """How soon an exit is noticed is measured by scripts/bench runtime (exit_detect_ms), not asserted."""
    d = daemon(
        f"""
        [program:seven]
        command = {PY} -c "import time,sys; time.sleep(0.3); sys.exit(7)"
        startsecs = 0
        autorestart = false
        """
    )
    d.wait_log(r"exited: seven \(exit status 7; not expected\)")
    assert d.count(r"exited: seven") == 1  # autorestart = false: noticed once, not restarted
    assert d.stop() == 0


def test_autorestart_unexpected_respects_exitcodes(daemon, tmp_path: Path) -> None:
    runs_ok, runs_bad = tmp_path / "ok.runs", tmp_path / "bad.runs"
    d = daemon(
        f"""
        [program:ok]
        command = sh -c 'echo run >> {runs_ok}; sleep 0.2; exit 3'
        startsecs = 0
        exitcodes = 0,3
        [program:bad]
        command = sh -c 'echo run >> {runs_bad}; sleep 0.2; exit 4'
        startsecs = 0
        exitcodes = 0,3
        """
    )
    wait_for(lambda: runs_bad.exists() and len(runs_bad.read_text().split()) >= 3, what="bad to restart")
    d.wait_log(r"exited: ok \(exit status 3; expected\)")
    assert len(runs_ok.read_text().split()) == 1
    assert d.stop() == 0


def test_autorestart_true_and_false(daemon, tmp_path: Path) -> None:
    always, never = tmp_path / "always.runs", tmp_path / "never.runs"
    d = daemon(
        f"""
        [program:always]
        command = sh -c 'echo run >> {always}; sleep 0.2; exit 0'
        startsecs = 0
        autorestart = true
        [program:never]
        command = sh -c 'echo run >> {never}; sleep 0.2; exit 9'
        startsecs = 0
        autorestart = false
        """
    )
    wait_for(lambda: always.exists() and len(always.read_text().split()) >= 3, what="always to restart")
    d.wait_log(r"exited: never \(exit status 9; not expected\)")
    assert len(never.read_text().split()) == 1
    assert d.stop() == 0


def test_stop_escalates_to_sigkill(daemon, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    d = daemon(
        f"""
        [program:stubborn]
        command = sh -c "trap '' TERM; touch {ready}; while true; do sleep 0.1; done"
        startsecs = 0
        stopwaitsecs = 1
        """
    )
    wait_for(ready.exists, what="the TERM trap to be installed")
    assert d.stop() == 0
    assert d.count(r"killing 'stubborn' \(\d+\) with SIGKILL") == 1
    assert d.count(r"stopped: stubborn \(terminated by SIGKILL\)") == 1


def test_several_stop_signals_in_turn(daemon, tmp_path: Path) -> None:
    got = tmp_path / "got"
    ready = tmp_path / "ready"
    d = daemon(
        f"""
        [program:picky]
        command = sh -c "trap 'echo TERM >> {got}' TERM; trap 'echo INT >> {got}; exit 0' INT; touch {ready}; while true; do sleep 0.05; done"
        startsecs = 0
        stopsignal = TERM INT
        stopwaitsecs = 0.5
        """
    )
    wait_for(ready.exists, what="traps")
    assert d.stop() == 0
    assert got.read_text().split() == ["TERM", "INT"]
    assert d.count("SIGKILL") == 0


def test_stopasgroup_kills_grandchildren(daemon, tmp_path: Path) -> None:
    gpid = tmp_path / "grandchild.pid"
    d = daemon(
        f"""
        [program:parent]
        command = sh -c 'sleep 1000 & echo $! > {gpid}; wait'
        startsecs = 0
        stopasgroup = true
        """
    )
    wait_for(lambda: gpid.exists() and gpid.read_text().strip(), what="grandchild pid")
    grandchild = int(gpid.read_text())
    assert proc_state(grandchild) not in (None, "Z")
    assert d.stop() == 0  # stop() also asserts nothing tagged is left
    assert proc_state(grandchild) in (None, "Z")


def test_priority_and_depends_on_order(daemon, tmp_path: Path) -> None:
    d = daemon(
        """
        [program:db]
        command = sleep 1000
        priority = 900
        startsecs = 1
        [program:app]
        command = sleep 1000
        priority = 1
        startsecs = 0
        depends_on = db
        [program:early]
        command = sleep 1000
        priority = 5
        startsecs = 0
        """
    )
    d.wait_log(r"spawned: 'app'", timeout=5)
    early = d.times(r"spawned: 'early'")[0]
    db_spawn = d.times(r"spawned: 'db'")[0]
    db_running = d.times(r"success: db entered RUNNING")[0]
    app = d.times(r"spawned: 'app'")[0]
    assert early <= db_spawn  # priority order among the unconstrained
    assert app >= db_running  # the dependent waits for RUNNING, not just a spawn
    pids = {name: d.pid_of(name) for name in ("db", "app", "early")}
    assert d.stop() == 0
    # reverse order at shutdown: the dependent is stopped before what it depends on
    stopped = {name: d.times(rf"stopped: {name} ")[0] for name in pids}
    assert stopped["app"] <= stopped["db"]


def test_dependency_fatal_leaves_dependent_stopped(daemon) -> None:
    d = daemon(
        """
        [program:broken]
        command = sh -c 'exit 2'
        startretries = 0
        [program:needs]
        command = sleep 1000
        depends_on = broken
        """
    )
    d.wait_log(r"gave up: broken entered FATAL state")
    d.wait_log(r"not starting needs: dependency broken entered FATAL state")
    assert d.count(r"spawned: 'needs'") == 0
    assert d.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="switching a child to user nobody needs root")
def test_user_switch_with_supplementary_groups(daemon, tmp_path: Path) -> None:
    import shutil
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="sv-user-"))  # pytest's tmp tree is 0700: nobody could not enter
    out.chmod(0o777)
    request_cleanup = shutil.rmtree
    d = daemon(
        f"""
        [program:asnobody]
        command = sh -c 'id -u > {out}/uid; id -G > {out}/groups; exec sleep 1000'
        user = nobody
        startsecs = 0
        """
    )
    wait_for(lambda: (out / "groups").exists() and (out / "groups").read_text().strip(), what="id output")
    import pwd

    nobody = pwd.getpwnam("nobody")
    assert int((out / "uid").read_text()) == nobody.pw_uid
    assert str(nobody.pw_gid) in (out / "groups").read_text().split()
    assert d.stop() == 0
    request_cleanup(out)


def test_environment_precedence(daemon, tmp_path: Path) -> None:
    envfile = tmp_path / "app.env"
    envfile.write_text("B=from_file\nC=from_file\nexport D='quoted file'\n")
    dump = tmp_path / "env.txt"
    d = daemon(
        f"""
        [program:envy]
        command = sh -c 'env > {dump}; exec sleep 1000'
        envFiles = {envfile}
        environment = C="from_program"
        startsecs = 0
        """,
        supervisord='environment = A="from_supervisord",B="from_supervisord"\n',
        start=False,
    )
    d.start(env={"A": "from_daemon_env", "Z": "daemon_only"})
    wait_for(lambda: dump.exists() and "SUPERVISOR_GROUP_NAME" in dump.read_text(), what="env dump")
    env = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert env["A"] == "from_supervisord"
    assert env["B"] == "from_file"
    assert env["C"] == "from_program"
    assert env["D"] == "quoted file"
    assert env["Z"] == "daemon_only"
    assert env["SUPERVISOR_ENABLED"] == "1"
    assert env["SUPERVISOR_PROCESS_NAME"] == "envy"
    assert env["SUPERVISOR_GROUP_NAME"] == "envy"
    assert d.stop() == 0


def test_numprocs_naming(daemon) -> None:
    d = daemon(
        """
        [program:w]
        command = sleep 1000
        numprocs = 3
        numprocs_start = 1
        process_name = %(program_name)s_%(process_num)02d
        startsecs = 0
        """
    )
    for name in ("w_01", "w_02", "w_03"):
        d.wait_log(rf"spawned: '{name}' with pid")
    assert d.count(r"spawned: 'w_00'") == 0
    assert d.stop() == 0


def test_sigterm_right_after_spawn_is_not_lost(daemon) -> None:
    d = daemon(
        """
        [program:fresh]
        command = sleep 1000
        startsecs = 5
        stopwaitsecs = 30
        """
    )
    d.wait_log(
        r"spawned: 'fresh'",
        timeout=5,
    )
    assert d.stop() == 0
    d.wait_log(r"stopped: fresh \(terminated by SIGTERM\)")  # not SIGKILL after the 30 s stopwaitsecs


def test_shutdown_of_many_leaves_nothing(daemon) -> None:
    d = daemon(
        """
        [program:many]
        command = sleep 1000
        numprocs = 20
        process_name = many_%(process_num)d
        startsecs = 0
        """
    )
    d.wait_log(r"spawned: 'many_\d+'", count=20)
    assert d.proc is not None
    assert len(set(tagged_pids(d.tag)) - {d.proc.pid}) == 20
    assert d.stop() == 0
    assert d.count(r"stopped: many_\d+ \(terminated by SIGTERM\)") == 20
    assert tagged_pids(d.tag) == []


def test_crashing_child_never_takes_daemon_down(daemon, tmp_path: Path) -> None:
    d = daemon(
        """
        [program:segv]
        command = sh -c 'kill -SEGV $$'
        startsecs = 0
        autorestart = false
        [program:steady]
        command = sleep 1000
        startsecs = 0
        """
    )
    d.wait_log(r"exited: segv \(terminated by SIGSEGV( \(core dumped\))?; not expected\)")
    assert d.proc is not None and d.proc.poll() is None
    assert d.stop() == 0


def test_loglevel_filters_main_log(daemon) -> None:
    d = daemon(
        """
        [program:quiet]
        command = sleep 1000
        startsecs = 0
        """,
        supervisord="loglevel = warn\n",
    )
    d.stop()
    assert "spawned: 'quiet'" not in d.log()


def test_version_subcommand(tmp_path: Path) -> None:
    out = subprocess.run(
        [PY, "-m", "supervisord", "version"], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert out.returncode == 0
    from supervisord import __version__

    assert out.stdout.strip() == __version__


def test_bad_config_exits_2_naming_file_line_key(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("[supervisord]\nlogfile=/dev/null\n\n[program:x]\ncommand=sleep 1\nstartsecs = soon\n")
    out = subprocess.run(
        [PY, "-m", "supervisord", "-c", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert f"{conf}:6" in out.stderr and "startsecs" in out.stderr and "program:x" in out.stderr
    assert not list(tmp_path.glob("*.pid"))


def test_pid1_reaps_orphans_but_keeps_own_exit_status(tmp_path: Path) -> None:
    """In a fresh PID namespace the daemon is PID 1: orphans are reaped, its own children's statuses kept."""
    from harness import Daemon

    d = Daemon(
        tmp_path,
        """
        [program:orphaner]
        command = sh -c '(sleep 0.3 &); (sleep 0.3 &); exec sleep 1000'
        startsecs = 0
        [program:seven]
        command = sh -c 'sleep 0.5; exit 7'
        startsecs = 0
        autorestart = false
        """,
    )
    try:
        d.start(prefix=["unshare", "--pid", "--fork", "--mount-proc"])
        d.wait_log(r"exited: seven \(exit status 7; not expected\)", timeout=20)
        d.wait_log(r"reaped unknown pid \d+", count=2, timeout=20)
        daemon_pid = int((tmp_path / "supervisord.pid").read_text())
        assert daemon_pid == 1
    finally:
        # unshare forwards nothing: signal the namespace's init (our daemon) through its host pid
        for pid in tagged_pids(d.tag):
            try:  # a tagged child may be gone between the listing and this read
                if b"-m\0supervisord" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGTERM)
            except (FileNotFoundError, ProcessLookupError):
                continue
        assert d.proc is not None
        d.proc.wait(15)
        d.kill()


def test_directory_umask_and_server_url(daemon, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    d = daemon(
        f"""
        [unix_http_server]
        file = {tmp_path}/sv.sock
        [program:where]
        command = sh -c 'pwd > where.txt; umask > umask.txt; echo "$SUPERVISOR_SERVER_URL" > url.txt; touch made; exec sleep 1000'
        directory = {work}
        umask = 027
        startsecs = 0
        """
    )
    wait_for(lambda: (work / "made").exists(), what="the child to run in its directory")
    assert (work / "where.txt").read_text().strip() == str(work)
    assert (work / "umask.txt").read_text().strip() == "0027"
    assert (work / "url.txt").read_text().strip() == f"unix://{tmp_path}/sv.sock"
    assert (work / "made").stat().st_mode & 0o777 == 0o640
    assert d.stop() == 0


def test_restartpause_delays_an_automatic_restart(daemon, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    d = daemon(
        f"""
        [program:pausing]
        command = sh -c 'echo run >> {runs}; sleep 0.2; exit 0'
        startsecs = 0
        autorestart = true
        restartpause = 1.5
        """
    )
    d.wait_log(r"spawned: 'pausing'", count=2, timeout=10)
    exited = d.times(r"exited: pausing")[0]
    respawned = d.times(r"spawned: 'pausing'")[1]
    assert 1.45 <= respawned - exited <= 2.0
    assert d.stop() == 0


def test_sighup_reloads_config_in_the_same_process(daemon, tmp_path: Path) -> None:
    d = daemon(
        """
        [program:old]
        command = sleep 1000
        startsecs = 0
        """
    )
    d.wait_log(r"spawned: 'old'")
    text = d.config.read_text().replace("[program:old]", "[program:new]")
    d.config.write_text(text)
    d.signal(signal.SIGHUP)
    d.wait_log(r"received SIGHUP indicating restart request")
    d.wait_log(r"spawned: 'new'")
    d.wait_log(r"stopped: old \(terminated by SIGTERM\)")
    assert d.proc is not None and d.proc.poll() is None
    assert int((tmp_path / "supervisord.pid").read_text()) == d.proc.pid
    assert d.stop() == 0
