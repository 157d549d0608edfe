"""Cgroup limits (``memory_max``, ``cpu_max``, ``pids_max``) with a real daemon and real children.

A pids_max program cannot fork past its limit; a memory_max kill is reported in the log and the description;
cpu_max (and the others) are written to the cgroup files; an escaped grandchild (setsid, SIGTERM ignored) dies
with its process on stop; each process's cgroup is removed after it, the daemon's subtree at shutdown, and a
killed daemon's subtree (with what ran in it) at the next start; usage shows in REST and ``/metrics``.
The backends are also driven directly: the pure-v2 one over this host's controller-less cgroup2 (membership,
``cgroup.kill``, removal), the v1 one with the freezer fallback. Where cgroups cannot be used: a clear error.

Needs root and a writable cgroup hierarchy; skipped with the reason otherwise. The pure-v2 *controller*
files (memory.max, cpu.max, pids.max) are only written on a cgroup2-only host (see README).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import xmlrpc.client
from pathlib import Path

import pytest
import requests
from harness import Daemon, proc_state, wait_for
from rpcutil import free_port, inet_section

from supervisord.config.model import LimitsConfig
from supervisord.runtime import cgroups

PY = sys.executable


def _unusable() -> str | None:
    if os.geteuid() != 0:
        return "cgroup limits need root here"
    try:
        backend = cgroups.discover()
    except cgroups.CgroupError as exc:
        return str(exc)
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    try:
        for base in backend.bases():
            os.mkdir(os.path.join(base, probe))
            os.rmdir(os.path.join(base, probe))
    except OSError as exc:
        return f"cgroup hierarchy not writable: {exc}"
    if backend.kind == "v2" and not {"memory", "cpu", "pids"} <= set(
        Path(backend.bases()[0], "cgroup.controllers").read_text().split()
    ):
        return "cgroup v2 without the memory, cpu and pids controllers delegated"
    return None


UNUSABLE = _unusable()
needs_cgroups = pytest.mark.skipif(UNUSABLE is not None, reason=f"cgroups unusable: {UNUSABLE}")


def rpc_daemon(daemon, body: str, **kwargs) -> tuple[Daemon, xmlrpc.client.ServerProxy, int]:
    port = free_port()
    d = daemon(inet_section(port) + textwrap.dedent(body), **kwargs)
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    wait_for(lambda: _ping(proxy), what="the XML-RPC server")
    return d, proxy, port


def _ping(proxy: xmlrpc.client.ServerProxy) -> bool:
    try:
        return proxy.supervisor.getState()["statename"] == "RUNNING"
    except OSError:
        return False


def info(proxy: xmlrpc.client.ServerProxy, name: str) -> dict:
    got: dict = proxy.supervisor.getProcessInfo(name)
    return got


def cgroup_dirs(pid: int) -> dict[str, str]:
    """The directories of ``pid``'s cgroups, by controller ("" for cgroup2), from /proc/PID/cgroup."""
    backend = cgroups.discover()
    root = os.environ.get(cgroups.ROOT_ENV) or cgroups.CGROUP_ROOT
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            if backend.kind == "v2":
                out[name] = os.path.join(root, path.lstrip("/"))
            else:
                mount = os.path.join(root, name or "unified")
                out[name] = os.path.join(mount, path.lstrip("/"))
    return out


def subtrees(daemon_pid: int) -> list[str]:
    """This daemon's subtree directories that exist, in every hierarchy."""
    name = cgroups.subtree_name(daemon_pid)
    found = []
    for base in cgroups.discover().bases():
        path = os.path.join(base, name)
        if os.path.isdir(path):
            found.append(path)
    return found


CAPPED = "[program:capped]\ncommand = /bin/sleep 1000\nstartretries = 0\n{limit}\n"


def gone(pid: int) -> bool:
    return proc_state(pid) in (None, "Z")


@needs_cgroups
def test_pids_max_stops_the_fork_past_the_limit(daemon, tmp_path: Path) -> None:
    script = tmp_path / "forker.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            kids = []
            try:
                for _ in range(20):
                    pid = os.fork()
                    if pid == 0:
                        time.sleep(60)
                        os._exit(0)
                    kids.append(pid)
                print("forked", len(kids), "no error", flush=True)
            except OSError as exc:
                print("forked", len(kids), "then", exc.strerror, flush=True)
            for pid in kids:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            time.sleep(1000)
            """
        )
    )
    out = tmp_path / "forker.out"
    d, proxy, _ = rpc_daemon(
        daemon,
        f"""
        [program:forker]
        command = {PY} {script}
        startsecs = 0
        pids_max = 5
        stdout_logfile = {out}
        """,
    )
    wait_for(lambda: out.exists() and out.read_text().endswith("\n"), what="the forker's report")
    # Five tasks: the program and four children; the fifth fork fails in the child with EAGAIN.
    assert out.read_text().strip() == "forked 4 then Resource temporarily unavailable"
    pid = info(proxy, "forker")["pid"]
    assert Path(cgroup_dirs(pid)["pids"], "pids.max").read_text().strip() == "5"
    d.stop()


@needs_cgroups
def test_limits_are_written_and_usage_shows_in_rest_and_metrics(daemon, tmp_path: Path) -> None:
    d, proxy, port = rpc_daemon(
        daemon,
        """
        [program:capped]
        command = /bin/sleep 1000
        startsecs = 0
        memory_max = 48MB
        cpu_max = 20000 50000
        pids_max = 7

        [program:free]
        command = /bin/sleep 1000
        startsecs = 0
        """,
    )
    wait_for(lambda: info(proxy, "capped")["statename"] == "RUNNING", what="RUNNING")
    pid = info(proxy, "capped")["pid"]
    wait_for(lambda: Path(f"/proc/{pid}/cmdline").read_bytes() == b"/bin/sleep\x001000\x00", what="the exec")
    dirs = cgroup_dirs(pid)
    assert cgroups.subtree_name(d.proc.pid) + "/capped:capped" in dirs["pids"]
    if cgroups.discover().kind == "v1":
        assert Path(dirs["memory"], "memory.limit_in_bytes").read_text().strip() == str(48 << 20)
        assert Path(dirs["cpu"], "cpu.cfs_quota_us").read_text().strip() == "20000"
        assert Path(dirs["cpu"], "cpu.cfs_period_us").read_text().strip() == "50000"
        assert Path(dirs["pids"], "pids.max").read_text().strip() == "7"
    # The program in its cgroup has the descriptors it had before: stdin, stdout, stderr.
    assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2"]
    # REST: a cgroup field for the capped process only; XML-RPC keeps Supervisor's 14 fields.
    rest = requests.get(f"http://127.0.0.1:{port}/program/info/capped", timeout=10).json()
    assert rest["cgroup"]["path"].endswith(cgroups.subtree_name(d.proc.pid) + "/capped:capped")
    assert rest["cgroup"]["memory_bytes"] > 0 and rest["cgroup"]["cpu_seconds"] >= 0
    assert rest["cgroup"]["oom_kills"] == 0
    listed = {p["name"]: p for p in requests.get(f"http://127.0.0.1:{port}/program/list", timeout=10).json()}
    assert "cgroup" in listed["capped"] and "cgroup" not in listed["free"]
    assert len(info(proxy, "capped")) == 14
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert re.search(
        r'^node_supervisord_cgroup_memory_bytes\{group="capped",name="capped"\} \d', metrics, re.M
    )
    assert 'node_supervisord_cgroup_cpu_seconds_total{group="capped",name="capped"}' in metrics
    assert 'node_supervisord_cgroup_oom_kills_total{group="capped",name="capped"} 0.0' in metrics
    assert 'cgroup_memory_bytes{group="free"' not in metrics
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=metrics, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # The GUI shows the memory in the process's row.
    page = requests.get(f"http://127.0.0.1:{port}/", timeout=10).text
    assert re.search(r'data-spec="capped".*?<span class="mem"[^>]*>[\d.]+ MiB</span>', page, re.S)
    d.stop()


def _kind() -> str:
    try:
        return cgroups.discover().kind
    except cgroups.CgroupError:
        return ""


@needs_cgroups
@pytest.mark.skipif(
    _kind() != "v2",
    reason="pure cgroup v2 only: this host is v1/hybrid (its cgroup2 has no memory, cpu or pids controller); "
    "the v1 files are checked by test_limits_are_written_and_usage_shows_in_rest_and_metrics",
)
def test_pure_v2_controller_files_are_written(daemon) -> None:
    d, proxy, _ = rpc_daemon(
        daemon,
        """
        [program:capped]
        command = /bin/sleep 1000
        startsecs = 0
        memory_max = 48MB
        cpu_max = 20000 50000
        pids_max = 7
        """,
    )
    wait_for(lambda: info(proxy, "capped")["statename"] == "RUNNING", what="RUNNING")
    here = cgroup_dirs(info(proxy, "capped")["pid"])[""]
    assert here.endswith(cgroups.subtree_name(d.proc.pid) + "/capped:capped")
    assert Path(here, "memory.max").read_text().strip() == str(48 << 20)
    assert Path(here, "cpu.max").read_text().strip() == "20000 50000"
    assert Path(here, "pids.max").read_text().strip() == "7"
    if cgroups.own_cgroups().get("", "/") != "/":  # no internal processes: the daemon moved to its leaf
        assert cgroup_dirs(d.proc.pid)[""].endswith("/" + cgroups.LEAF)
    d.stop()


@needs_cgroups
def test_a_memory_max_kill_is_reported(daemon, tmp_path: Path) -> None:
    hog = tmp_path / "hog.py"
    hog.write_text("import time\ndata = b'x' * (256 << 20)\ntime.sleep(1000)\n")
    d, proxy, _ = rpc_daemon(
        daemon,
        f"""
        [program:hog]
        command = {PY} {hog}
        startsecs = 0
        autorestart = false
        memory_max = 32MB
        """,
    )
    wait_for(lambda: info(proxy, "hog")["statename"] == "EXITED", timeout=30, what="the hog to be killed")
    d.wait_log(r"hog: killed by its cgroup's memory limit \(memory_max=33554432\)")
    assert d.count(r"exited: hog \(terminated by SIGKILL; not expected\)") == 1
    assert (
        "killed by its cgroup's memory limit (memory_max=33554432) at " in info(proxy, "hog")["description"]
    )
    d.stop()


def escaper(tmp_path: Path) -> tuple[Path, Path]:
    """A program whose grandchild escapes it (double fork, its own session, SIGTERM ignored) and writes its
    pid to the marker file (atomically); the program itself sleeps on."""
    script = tmp_path / "escaper.py"
    marker = tmp_path / "grandchild.pid"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, signal, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    open({str(marker)!r} + ".tmp", "w").write(str(os.getpid()))
                    os.rename({str(marker)!r} + ".tmp", {str(marker)!r})
                    time.sleep(1000)
                os._exit(0)
            os.wait()
            time.sleep(1000)
            """
        )
    )
    return script, marker


@needs_cgroups
def test_stop_kills_an_escaped_grandchild_and_removes_the_cgroup(daemon, tmp_path: Path) -> None:
    script, marker = escaper(tmp_path)
    d, proxy, _ = rpc_daemon(
        daemon,
        f"""
        [program:escaper]
        command = {PY} {script}
        startsecs = 0
        pids_max = 10
        """,
    )
    wait_for(marker.exists, what="the grandchild")
    grandchild = int(marker.read_text())
    pid = info(proxy, "escaper")["pid"]
    dirs = cgroup_dirs(grandchild)
    assert dirs == cgroup_dirs(pid)  # the escapee is still in its process's cgroup
    proxy.supervisor.stopProcess("escaper")
    # Out of the cgroup before the stop returned (it may still be finishing its exit); then reaped by the
    # daemon (a subreaper).
    wait_for(lambda: proc_state(grandchild) is None, what="the grandchild to be gone")
    assert not any(os.path.exists(p) for p in dirs.values() if p.endswith("/escaper:escaper"))
    assert d.count("escaper: processes in cgroup") == 0
    # Started again: a fresh cgroup of the same name; shutdown removes it and the daemon's subtree.
    proxy.supervisor.startProcess("escaper")
    assert subtrees(d.proc.pid)
    daemon_pid = d.proc.pid
    d.stop()
    assert subtrees(daemon_pid) == []


@needs_cgroups
def test_a_killed_daemons_cgroups_are_cleaned_at_the_next_start(daemon, tmp_path: Path) -> None:
    script, marker = escaper(tmp_path)
    body = f"""
        [program:escaper]
        command = {PY} {script}
        startsecs = 0
        memory_max = 64MB
        """
    first, _proxy, _ = rpc_daemon(daemon, body)
    wait_for(lambda: marker.exists() and marker.read_text(), what="the grandchild")
    grandchild = int(marker.read_text())
    first_pid = first.proc.pid
    left = subtrees(first_pid)
    assert left
    os.kill(first_pid, signal.SIGKILL)  # no shutdown: its children and cgroups stay behind
    first.proc.wait(10)
    assert not gone(grandchild)
    marker.unlink()
    second, _proxy2, _ = rpc_daemon(daemon, body)
    second.wait_log(rf"removed cgroup subtree supervisord-{first_pid}-\d+ left by a supervisord that is gone")
    wait_for(lambda: gone(grandchild), what="the leftover grandchild to be gone")
    assert not any(os.path.exists(p) for p in left)
    second.stop()
    if not gone(grandchild):  # never leave it behind, whatever failed above
        os.kill(grandchild, signal.SIGKILL)


def test_no_cgroup_filesystem_is_a_clear_spawn_error(daemon, tmp_path: Path) -> None:
    empty = tmp_path / "nocgroups"
    empty.mkdir()
    port = free_port()
    d = daemon(inet_section(port) + CAPPED.format(limit="memory_max = 64MB"), start=False)
    d.start(env={cgroups.ROOT_ENV: str(empty)})
    try:
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
        wait_for(lambda: _ping(proxy), what="the XML-RPC server")
        wait_for(lambda: info(proxy, "capped")["statename"] == "FATAL", what="FATAL")
        reason = f"no cgroup filesystem at {empty} (neither cgroup v2 nor v1 controllers mounted)"
        assert info(proxy, "capped")["spawnerr"] == reason
        assert info(proxy, "capped")["description"] == reason
        assert d.count(r"spawned: 'capped'") == 0
        assert reason in d.log()
    finally:
        d.stop()


@needs_cgroups
def test_an_unwritable_hierarchy_is_a_clear_spawn_error(daemon, tmp_path: Path) -> None:
    """A cgroup2-looking tree the daemon cannot make directories in (immutable, even for root)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    fake = tmp_path / "fakecg"
    fake.mkdir()
    (fake / "cgroup.controllers").write_text("memory cpu pids\n")
    (fake / "cgroup.subtree_control").write_text("")
    own = cgroups.own_cgroups().get("", "/").strip("/")
    base = fake / own if own else fake
    base.mkdir(parents=True, exist_ok=True)
    (base / "cgroup.controllers").write_text("memory cpu pids\n")
    (base / "cgroup.subtree_control").write_text("")
    if subprocess.run(["chattr", "+i", str(base)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported on this filesystem")
    try:
        port = free_port()
        d = daemon(inet_section(port) + CAPPED.format(limit="pids_max = 3"), start=False)
        d.start(env={cgroups.ROOT_ENV: str(fake)})
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
        wait_for(lambda: _ping(proxy), what="the XML-RPC server")
        wait_for(lambda: info(proxy, "capped")["statename"] == "FATAL", what="FATAL")
        spawnerr = info(proxy, "capped")["spawnerr"]
        assert spawnerr.startswith("cannot "), spawnerr
        assert str(base) in spawnerr and "Operation not permitted" in spawnerr, spawnerr
        assert d.count(r"spawned: 'capped'") == 0
        d.stop()
    finally:
        subprocess.run(["chattr", "-i", str(base)], check=True)


@needs_cgroups
def test_a_missing_v2_controller_is_a_clear_spawn_error(daemon, tmp_path: Path) -> None:
    """This host's cgroup2 has no controllers: a pure-v2 daemon there must refuse, naming the controller."""
    unified = Path(cgroups.CGROUP_ROOT, "unified")
    if not (unified / "cgroup.controllers").exists():
        pytest.skip("no controller-less cgroup2 at /sys/fs/cgroup/unified on this host")
    if "memory" in (unified / "cgroup.controllers").read_text().split():
        pytest.skip("the cgroup2 here has the memory controller")
    port = free_port()
    d = daemon(inet_section(port) + CAPPED.format(limit="memory_max = 64MB"), start=False)
    d.start(env={cgroups.ROOT_ENV: str(unified)})
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    wait_for(lambda: _ping(proxy), what="the XML-RPC server")
    wait_for(lambda: info(proxy, "capped")["statename"] == "FATAL", what="FATAL")
    assert info(proxy, "capped")["spawnerr"].startswith(
        "the cgroup v2 memory controller is not available to the daemon (not in "
    )
    daemon_pid = d.proc.pid
    d.stop()
    own = cgroups.own_cgroups().get("", "/").lstrip("/")
    assert not (unified / own / cgroups.subtree_name(daemon_pid)).exists()


# -- the backends, driven directly --


def _sleeper_with_grandchild() -> subprocess.Popen[bytes]:
    """A process that forks a setsid'd grandchild ignoring SIGTERM, both held at a gate until placed."""
    code = (
        "import os, signal, sys, time\n"
        "sys.stdin.readline()\n"
        "if os.fork() == 0:\n"
        "    os.setsid(); signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(1000)\n"
        "time.sleep(1000)\n"
    )
    return subprocess.Popen([PY, "-c", code], stdin=subprocess.PIPE)


def _run_backend(backend: cgroups.Backend) -> None:
    subtree = f"supervisord-test-{uuid.uuid4().hex[:8]}"
    backend.prepare(subtree)
    rel = f"{subtree}/g:p"
    proc = _sleeper_with_grandchild()
    try:
        assert backend.make(rel, LimitsConfig()) is True
        backend.place(rel, proc.pid)
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        wait_for(
            lambda: len(Path(backend.dirs(rel)[0], "cgroup.procs").read_text().split()) == 2, what="fork"
        )
        assert backend.populated(rel)
        started = time.monotonic()
        backend.kill(rel)
        wait_for(lambda: not backend.populated(rel), what="the cgroup to empty")
        assert time.monotonic() - started < 5
        proc.wait(5)
        assert proc.returncode == -signal.SIGKILL
        backend.remove(rel)
        assert not any(os.path.exists(p) for p in backend.dirs(rel))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for base in backend.bases():
            for path in (os.path.join(base, rel), os.path.join(base, subtree)):
                if os.path.isdir(path):
                    os.rmdir(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_v2_backend_membership_kill_and_removal_on_a_real_cgroup2() -> None:
    unified = Path(cgroups.CGROUP_ROOT, "unified")
    root = Path(cgroups.CGROUP_ROOT)
    mount = root if (root / "cgroup.controllers").exists() else unified
    if not (mount / "cgroup.controllers").exists():
        pytest.skip("no cgroup2 mounted")
    own = cgroups.own_cgroups().get("", "/").strip("/")
    backend = cgroups.V2(str(mount / own) if own else str(mount), is_root=not own)
    backend.CONTROLLERS = ()  # type: ignore[misc]  # membership only: never move the test runner itself
    _run_backend(backend)


@needs_cgroups
def test_v1_backend_kills_through_the_freezer_without_cgroup2() -> None:
    backend = cgroups.discover()
    if not isinstance(backend, cgroups.V1) or "freezer" not in backend.controllers:
        pytest.skip("no cgroup v1 freezer on this host")
    _run_backend(cgroups.V1(backend.controllers, None))


@needs_cgroups
def test_a_leftover_removed_from_some_hierarchies_only_is_still_cleaned() -> None:
    """A dead daemon's subtree that an earlier cleanup half removed (gone from every hierarchy but one)
    is removed by the next cleanup, not reported as an error at every start for ever."""
    backend = cgroups.discover()
    name = f"supervisord-999999-{uuid.uuid4().int % 10**9}"  # no daemon runs with that pid and start time
    base = backend.bases()[0]
    os.makedirs(os.path.join(base, name, "g:p"))
    assert any(line.startswith(f"removed cgroup subtree {name}") for line in cgroups.clean_leftovers())
    assert not any(os.path.exists(os.path.join(b, name)) for b in backend.bases())


def test_exit_note_says_what_the_memory_limit_did() -> None:
    cg = cgroups.ProcessCgroup(cgroups.Backend(), "s/g:p", 32 << 20)
    killed = signal.SIGKILL  # a wait status of "terminated by SIGKILL"
    assert cgroups.exit_note(cg, killed, 1) == "killed by its cgroup's memory limit (memory_max=33554432)"
    assert cgroups.exit_note(cg, 0, 2) == (
        "2 process(es) in its cgroup killed by its memory limit (memory_max=33554432)"
    )
    assert cgroups.exit_note(cg, killed, 0) == ""


class _FixedUsage(cgroups.Backend):
    """A backend whose cgroups report fixed usage (the metrics text, without sysfs)."""

    def bases(self) -> list[str]:
        return ["/nonexistent"]

    def usage(self, rel: str) -> cgroups.Usage:
        return cgroups.Usage(12 << 20, 1.5, 1)


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text; version=1.0.0"])
def test_cgroup_metrics_are_the_encoders_text(accept: str) -> None:
    import dataclasses

    from prometheus_client.exposition import choose_encoder
    from test_web_metrics import Feed, Snapshots, snap, supervisord_part

    from supervisord.states import ProcessState
    from supervisord.web.metrics import Metrics

    capped = cgroups.ProcessCgroup(_FixedUsage(), "s/g:capped", 32 << 20)
    snaps = [
        dataclasses.replace(snap("capped", "g", ProcessState.RUNNING, os.getpid()), cgroup=capped),
        snap("free", "g", ProcessState.RUNNING, os.getpid()),
    ]
    metrics = Metrics(Snapshots(snaps), Feed())  # type: ignore[arg-type]
    body, _ = metrics.render(accept)
    encoder = choose_encoder(accept)[0]
    assert supervisord_part(body) == supervisord_part(encoder(metrics.registry))
    assert b'node_supervisord_cgroup_memory_bytes{group="g",name="capped"} 1.2582912e+07' in body
    assert b'node_supervisord_cgroup_oom_kills_total{group="g",name="capped"} 1.0' in body
    assert b'cgroup_memory_bytes{group="g",name="free"}' not in body
    assert body.count(b"# EOF") == (1 if accept else 0)
    # Without a process in a cgroup, the families are not there at all (the document is as before).
    metrics = Metrics(Snapshots(snaps[1:]), Feed())  # type: ignore[arg-type]
    assert b"cgroup" not in metrics.render(accept)[0]


@needs_cgroups
def test_without_a_shell_the_gate_is_the_daemons_interpreter(monkeypatch, tmp_path: Path) -> None:
    """In-process spawn (this test process plays the daemon): no /bin/sh, the child still waits until placed."""
    from supervisord.config.model import ProcessConfig
    from supervisord.runtime.spawn import ManagedPids, spawn

    monkeypatch.setattr(cgroups, "SHELL", str(tmp_path / "no-shell-here"))
    config = ProcessConfig(
        name="p", group="g", program_name="p", command="/bin/sleep 100", limits=LimitsConfig(pids_max=4)
    )
    pids = ManagedPids()
    child = spawn(config, ["/bin/sleep", "100"], {"PATH": "/bin"}, None, pids)
    pid = child.popen.pid
    try:
        assert child.cgroup is not None
        wait_for(lambda: Path(f"/proc/{pid}/cmdline").read_bytes() == b"/bin/sleep\x00100\x00", what="exec")
        assert cgroup_dirs(pid)["pids"].endswith(f"{cgroups.subtree_name(os.getpid())}/g:p")
        assert Path(cgroup_dirs(pid)["pids"], "pids.max").read_text().strip() == "4"
        assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2"]
    finally:
        child.popen.kill()
        child.popen.wait()
        pids.discard(pid)
        for fd in (child.pidfd, child.stdin_fd, child.stdout_fd, child.stderr_fd):
            if fd is not None:
                os.close(fd)
        assert child.cgroup is not None and child.cgroup.finish() == (0, "")
        assert cgroups.close() == []


@needs_cgroups
def test_a_failed_placement_is_a_spawn_error_and_the_program_never_runs(monkeypatch, tmp_path: Path) -> None:
    """In-process: the daemon cannot place the child; the gate exits without running it, nothing is left."""
    from supervisord.config.model import ProcessConfig
    from supervisord.runtime.spawn import ManagedPids, SpawnError, spawn

    def refuse(self: cgroups.ProcessCgroup, pid: int) -> None:
        placed.append(pid)
        raise cgroups.CgroupError("cannot write '1' to cgroup.procs: No space left on device")

    placed: list[int] = []
    monkeypatch.setattr(cgroups.ProcessCgroup, "place", refuse)
    ran = tmp_path / "ran"
    config = ProcessConfig(
        name="p", group="g", program_name="p", command="x", limits=LimitsConfig(pids_max=4)
    )
    pids = ManagedPids()
    fds_before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(SpawnError, match="No space left on device"):
        spawn(config, ["/usr/bin/touch", str(ran)], {"PATH": "/bin"}, None, pids)
    try:
        assert placed and placed[0] not in pids
        assert proc_state(placed[0]) is None  # reaped, no zombie
        assert not ran.exists()  # the program never ran
        assert sorted(os.listdir("/proc/self/fd")) == fds_before  # no descriptor leaked
        assert not os.path.exists(
            os.path.join(cgroups.discover().bases()[0], cgroups.subtree_name(os.getpid()), "g:p")
        )
    finally:
        assert cgroups.close() == []
