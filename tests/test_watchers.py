"""File watchers end to end: real binaries, real files, real children, the real daemon (README "Restart on
change"). Where a test must show that something did *not* happen (one restart for a burst, no action for a
file that does not match), it triggers a later, distinct action and checks the count once that one is seen.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import re
import shutil
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

from harness import Daemon, wait_for
from rpcutil import free_port, inet_section, wait_ready

LISTENERS = Path(__file__).parent / "listeners.py"
FAST = "watch_debounce = 0.2\n"


def script(path: Path, version: str) -> Path:
    """A "binary": a shell script that becomes a sleep (so nothing keeps the script file open)."""
    path.write_text(f"#!/bin/sh\n# version {version}\nexec sleep 1000\n")
    path.chmod(0o755)
    return path


def spawns(d: Daemon, name: str) -> int:
    return d.count(rf"spawned: '{name}' with pid")


def inotify_inodes(pid: int) -> list[int]:
    """The inode of every directory the process has an inotify watch on (from /proc/PID/fdinfo)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as fh:
                info = fh.read()
        except OSError:
            continue
        found += [int(m, 16) for m in re.findall(r"^inotify wd:\S+ ino:([0-9a-f]+)", info, re.M)]
    return found


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_binary_replaced_by_rename_restarts_once_and_is_reported(daemon, tmp_path: Path) -> None:
    binary = script(tmp_path / "web", "1")
    events = tmp_path / "events.txt"
    port = free_port()
    d = daemon(
        inet_section(port)
        + textwrap.dedent(
            f"""
        [program:web]
        command = {binary}
        startsecs = 0
        restart_when_binary_changed = true

        [eventlistener:rec]
        command = {sys.executable} {LISTENERS} record {events}
        events = WATCH
        """
        ),
        supervisord=FAST,
    )
    server = wait_ready(port)
    d.wait_log(rf"watching binary {binary} of web")
    d.wait_log(r"spawned: 'web'")
    d.wait_log(r"success: rec entered RUNNING")
    first = d.pid_of("web")
    staged = script(tmp_path / "web.new", "2")
    os.rename(staged, binary)  # the atomic deploy
    d.wait_log(rf"restarting web: binary {binary} changed")
    wait_for(lambda: spawns(d, "web") == 2, what="web respawned")
    assert d.pid_of("web") != first
    info = server.supervisor.getProcessInfo("web")
    assert re.search(rf"; restarted at \d\d:\d\d:\d\d: binary {binary} changed$", info["description"]), info
    line = wait_for(lambda: events.exists() and events.read_text(), what="the WATCH_PROCESS event")
    assert line.startswith("WATCH_PROCESS ")
    assert f"processname:web groupname:web pid:{first} action:restart|binary {binary} changed" in line
    assert d.stop() == 0


def test_binary_copied_in_place_found_through_path(daemon, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    binary = script(bindir / "tool", "1")
    d = daemon(
        f"""
        [program:tool]
        command = tool --serve
        environment = PATH="{tmp_path / "nowhere"}:{bindir}:/usr/bin:/bin"
        startsecs = 0
        restart_when_binary_changed = true
        """,
        supervisord=FAST,
    )
    d.wait_log(rf"watching binary {binary} of tool")
    shutil.copyfile(script(tmp_path / "tool.v2", "2"), binary)  # rewrites the same inode
    d.wait_log(rf"restarting tool: binary {binary} changed")
    wait_for(lambda: spawns(d, "tool") == 2, what="tool respawned")
    assert d.stop() == 0


def test_symlink_retarget_and_relative_command_in_directory(daemon, tmp_path: Path) -> None:
    for version in ("v1", "v2"):
        (tmp_path / "releases" / version).mkdir(parents=True)
        script(tmp_path / "releases" / version / "app", version)
    current = tmp_path / "current"
    current.symlink_to("releases/v1")
    d = daemon(
        f"""
        [program:app]
        command = ./current/app
        directory = {tmp_path}
        startsecs = 0
        restart_when_binary_changed = true
        """,
        supervisord=FAST,
    )
    d.wait_log(rf"watching binary {tmp_path}/current/app of app")
    link = tmp_path / "current.tmp"
    link.symlink_to("releases/v2")
    os.rename(link, current)  # what `ln -sfn` + `mv -T` do: the directory link moves to the new release
    target = tmp_path / "releases" / "v2" / "app"
    d.wait_log(rf"restarting app: binary {tmp_path}/current/app changed \(now {target}\)")
    wait_for(lambda: spawns(d, "app") == 2, what="app respawned")
    assert d.stop() == 0


def test_binary_changed_while_stopped_is_not_acted_on(daemon, tmp_path: Path) -> None:
    binary = script(tmp_path / "idle", "1")
    d = daemon(
        f"""
        [program:idle]
        command = {binary}
        autostart = false
        restart_when_binary_changed = true
        """,
        supervisord=FAST,
    )
    d.wait_log(rf"watching binary {binary} of idle")
    os.unlink(binary)  # unlink + create
    script(binary, "2")
    d.wait_log(rf"binary {binary} changed: not acting on idle \(STOPPED\)")
    assert spawns(d, "idle") == 0
    assert d.stop() == 0


def test_pattern_nested_directories_and_signal_seen_by_the_child(daemon, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    hups = tmp_path / "hups"
    d = daemon(
        f"""
        [program:nginx]
        command = sh -c 'trap "echo hup >> {hups}" HUP; while :; do sleep 0.1; done'
        startsecs = 0
        restart_directory_monitor = {conf}
        restart_file_pattern = *.conf
        restart_signal_when_file_changed = HUP
        """,
        supervisord=FAST,
    )
    d.wait_log(rf"watching {conf} for \*.conf of nginx")
    d.wait_log(r"spawned: 'nginx'")
    pid = d.pid_of("nginx")
    nested = conf / "sites" / "enabled"
    nested.mkdir(parents=True)  # created after the watch started: the new tree is watched at once
    (nested / "notes.txt").write_text("not a config")
    (nested / "site.conf").write_text("server {}")
    d.wait_log(rf"sending SIGHUP to nginx: file {nested}/site.conf changed$")
    wait_for(lambda: hups.exists() and hups.read_text() == "hup\n", what="the child's trap to run")
    (conf / "other.txt").write_text("ignored")
    (conf / "main.conf").write_text("events {}")
    d.wait_log(rf"sending SIGHUP to nginx: file {conf}/main.conf changed$")
    wait_for(lambda: hups.read_text() == "hup\nhup\n", what="the second HUP")
    assert d.count(r"sending SIGHUP to nginx") == 2 and d.pid_of("nginx") == pid
    assert spawns(d, "nginx") == 1
    assert d.stop() == 0


def test_burst_of_50_writes_gives_one_restart(daemon, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    d = daemon(
        f"""
        [program:worker]
        command = sleep 1000
        startsecs = 0
        restart_directory_monitor = {data}
        restart_file_pattern = *.json
        """,
        supervisord="watch_debounce = 1\n",
    )
    d.wait_log(rf"watching {data} for \*.json of worker")
    for i in range(50):
        (data / f"item{i % 7}.json").write_text(str(i))
    d.wait_log(r"restarting worker: 7 files under .* changed")
    wait_for(lambda: spawns(d, "worker") == 2, what="the restart")
    (data / "sentinel.json").write_text("later")  # a second, separate change
    d.wait_log(rf"restarting worker: file {data}/sentinel.json changed")
    wait_for(lambda: spawns(d, "worker") == 3, what="the second restart")
    assert d.count(r"restarting worker") == 2
    assert d.stop() == 0


def test_command_variant_runs_once_per_burst_and_keeps_the_child(daemon, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    ran = tmp_path / "ran"
    d = daemon(
        f"""
        [program:proxy]
        command = sleep 1000
        startsecs = 0
        restart_directory_monitor = {conf}
        restart_cmd_when_file_changed = sh -c 'echo "$SUPERVISOR_PROCESS_NAME" >> {ran}; echo reloaded'
        restart_signal_when_file_changed = HUP
        """,
        supervisord=FAST,
    )
    d.wait_log(rf"watching {conf} for \* of proxy")
    d.wait_log(r"spawned: 'proxy'")
    pid = d.pid_of("proxy")
    for i in range(10):
        (conf / "a.cfg").write_text(str(i))
    d.wait_log(r"restart command 'sh -c .*' for proxy exited with status 0")
    d.wait_log(r"restart command for proxy: reloaded")  # its output, in the main log
    (conf / "b.cfg").write_text("again")
    d.wait_log(r"restart command 'sh -c .*' for proxy exited with status 0", count=2)
    assert ran.read_text() == "proxy\nproxy\n"  # the command won over the signal, once per burst
    d.wait_log(r"restart command for proxy: reloaded", count=2)
    assert d.pid_of("proxy") == pid and spawns(d, "proxy") == 1
    assert d.stop() == 0


def test_removed_program_loses_its_watch_and_config_watch_updates(daemon, tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    events = tmp_path / "events.txt"
    body = f"""
        [eventlistener:rec]
        command = {sys.executable} {LISTENERS} record {events}
        events = WATCH_CONFIG

        [program:keeper]
        command = sleep 1000
        startsecs = 0

        [program:gone]
        command = sleep 1000
        startsecs = 0
        restart_directory_monitor = {watched}
        """
    d = daemon(body, supervisord=FAST + "config_watch = true\n")
    d.wait_log(r"spawned: 'gone'")
    d.wait_log(r"config_watch: watching 1 files and 0 include globs")
    d.wait_log(r"success: rec entered RUNNING")
    assert os.stat(watched).st_ino in wait_for(lambda: inotify_inodes(d.proc.pid), what="a watch")
    config = d.config
    text = config.read_text()

    # A broken edit: logged with file and line, nothing changes.
    config.write_text(text.replace("startsecs = 0\n\n[program:gone]", "startsecs = soon\n\n[program:gone]"))
    d.wait_log(rf"config_watch: {config} changed; not applied: {config}:\d+: \[program:keeper\] startsecs")
    assert d.count(r"stopped: ") == 0

    # The program goes: it is stopped, removed, and its watch with it.
    head, _, _ = text.partition("[program:gone]")
    config.write_text(head)
    d.wait_log(r"config_watch: .* updated \(added: -; changed: -; removed: gone\)")
    assert d.count(r"stopped: gone") == 1 and d.count(r"stopped: keeper") == 0
    wait_for(lambda: events.exists() and len(events.read_text().splitlines()) == 2, what="2 WATCH_CONFIG")
    lines = events.read_text().splitlines()
    assert lines[0].startswith("WATCH_CONFIG ") and " action:rejected added: changed: removed:|" in lines[0]
    assert lines[1].endswith(f" action:update added: changed: removed:gone|{config} changed")
    wait_for(lambda: os.stat(watched).st_ino not in inotify_inodes(d.proc.pid), what="the watch to go")

    # A new include file appears: its program is added and started.
    config.write_text(head + f"[include]\nfiles = {tmp_path}/conf.d/*.ini\n")
    d.wait_log(r"config_watch: .* no process group changed")
    d.wait_log(r"config_watch: watching 1 files and 1 include globs")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "extra.ini").write_text("[program:extra]\ncommand = sleep 1000\nstartsecs = 0\n")
    d.wait_log(r"config_watch: .* updated \(added: extra; changed: -; removed: -\)")
    d.wait_log(r"spawned: 'extra'")
    assert d.stop() == 0


def test_polling_fallback_without_inotify(daemon, tmp_path: Path) -> None:
    binary = script(tmp_path / "svc", "1")
    d = daemon(
        f"""
        [program:svc]
        command = {binary}
        startsecs = 0
        restart_when_binary_changed = true
        """,
        supervisord=FAST + "watch_polling = true\nwatch_poll_interval = 0.2\n",
    )
    d.wait_log(r"file watches: polling every 0.2 s \(watch_polling = true\)")
    d.wait_log(rf"watching binary {binary} of svc")
    os.unlink(binary)
    script(binary, "2")
    d.wait_log(rf"restarting svc: binary {binary} changed")
    wait_for(lambda: spawns(d, "svc") == 2, what="svc respawned")
    assert inotify_inodes(d.proc.pid) == []
    assert d.stop() == 0


def test_a_thousand_watched_programs_keep_threads_bounded_and_the_daemon_asleep(
    daemon, tmp_path: Path
) -> None:
    sections = []
    shared = tmp_path / "bin"
    shared.mkdir()
    for i in range(1000):
        if i % 2:
            own = tmp_path / "dirs" / f"d{i}"
            own.mkdir(parents=True)
            sections.append(
                f"[program:p{i}]\ncommand = sleep 1000\nautostart = false\n"
                f"restart_directory_monitor = {own}\n"
            )
        else:
            binary = script(shared / f"b{i}", "1")
            sections.append(
                f"[program:p{i}]\ncommand = {binary}\nautostart = false\nrestart_when_binary_changed = true\n"
            )
    port = free_port()
    d = daemon(inet_section(port) + "\n".join(sections), supervisord=FAST)
    wait_ready(port, timeout=60)
    pid = d.proc.pid
    # 500 directory monitors (one each) and 500 binaries in one directory: 501 kernel watches.
    wait_for(lambda: len(inotify_inodes(pid)) == 501, timeout=60, what="501 watches")
    assert threads(pid) <= 24, threads(pid)  # main, io-loop, inotify reader, the actor pool (16 by default)

    def switches() -> int:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/status") as fh:
                total += sum(int(line.split()[1]) for line in fh if "ctxt_switches" in line)
        return total

    wait_for(lambda: (a := switches(), time.sleep(0.5), switches() == a)[2], timeout=30, what="quiet")
    before = switches()
    time.sleep(1.0)  # measuring idleness: the daemon must not wake up at all in this second
    assert switches() == before
    os.rename(script(tmp_path / "b0.new", "2"), shared / "b0")
    d.wait_log(rf"binary {shared}/b0 changed: not acting on p0 \(STOPPED\)")
    assert d.count(r"not acting on") == 1
    assert d.stop(timeout=60) == 0


def test_update_replaces_a_watch_whose_keys_changed(daemon, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    d = daemon(
        f"""
        [program:w]
        command = sleep 1000
        startsecs = 0
        restart_directory_monitor = {old}
        """,
        supervisord=FAST + "config_watch = true\n",
    )
    d.wait_log(rf"watching {old} for \* of w")
    d.wait_log(r"config_watch: watching 1 files and 0 include globs")
    pid = d.proc.pid
    d.config.write_text(d.config.read_text().replace(str(old), str(new)))
    d.wait_log(r"config_watch: .* updated \(added: -; changed: w; removed: -\)")
    d.wait_log(rf"watching {new} for \* of w")
    wait_for(
        lambda: os.stat(old).st_ino not in (inodes := inotify_inodes(pid)) and os.stat(new).st_ino in inodes,
        what="the watch to move",
    )
    (old / "x").write_text("no longer watched")
    (new / "y").write_text("watched now")
    d.wait_log(rf"restarting w: file {new}/y changed")
    assert d.count(r"restarting w") == 1
    assert d.stop() == 0


def test_watch_limit_reached_falls_back_to_polling(tmp_path: Path, caplog) -> None:
    """The kernel refusing a watch (ENOSPC: fs.inotify.max_user_watches) is injected; the rest is real."""
    from supervisord.runtime.fswatch import WatchService

    logger = logging.getLogger("test-fswatch")
    service = WatchService(logger, interval=0.1)
    assert service.inotify is not None

    def refuse(*args: object) -> int:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    service.inotify.add_callback = refuse
    seen: queue.Queue[str] = queue.Queue()
    try:
        with caplog.at_level(logging.WARNING, logger="test-fswatch"):
            service.watch(str(tmp_path), seen.put, names=frozenset({"bin"}))
        assert "inotify watch limit reached (see fs.inotify.max_user_watches)" in caplog.text
        (tmp_path / "other").write_text("not watched")
        (tmp_path / "bin").write_text("new")
        assert seen.get(timeout=10) == str(tmp_path / "bin")
        assert service.watched_directories() == 0
    finally:
        service.close()
    assert not any(t.name in ("inotify-reader", "watch-poller") for t in threading.enumerate())


def inotify_fds(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify"
        except OSError:
            pass
    return count


def test_watches_are_per_program_not_per_spawn_and_end_with_the_run(daemon, tmp_path: Path) -> None:
    binary = script(tmp_path / "svc", "1")
    d = daemon(
        f"""
        [program:svc]
        command = {binary}
        startsecs = 0
        restart_when_binary_changed = true
        """,
        supervisord=FAST,
    )
    d.wait_log(rf"watching binary {binary} of svc")
    pid = d.proc.pid
    assert inotify_inodes(pid) == [os.stat(tmp_path).st_ino]
    for version in ("2", "3"):  # two restarts: still one watch (the Go project adds one per spawn)
        os.rename(script(tmp_path / "svc.new", version), binary)
        d.wait_log(rf"restarting svc: binary {binary} changed", count=int(version) - 1)
        wait_for(lambda v=version: spawns(d, "svc") == int(v), what="the restart")
    assert inotify_inodes(pid) == [os.stat(tmp_path).st_ino]
    d.signal(signal.SIGHUP)  # a reload ends the run: its watches and thread go, the new run has its own
    d.wait_log(r"watching binary .* of svc", count=2)
    wait_for(lambda: spawns(d, "svc") == 4, what="the respawn after the reload")
    assert inotify_fds(pid) == 1 and inotify_inodes(pid) == [os.stat(tmp_path).st_ino]
    assert d.stop() == 0


def test_inotify_reader_failing_is_logged_and_polling_takes_over(tmp_path: Path, caplog) -> None:
    """An error inside watchdog's reader thread is injected; the thread must not die silently."""
    from supervisord.runtime.fswatch import WatchService

    logger = logging.getLogger("test-fswatch-reader")
    service = WatchService(logger, interval=0.1)
    seen: queue.Queue[str] = queue.Queue()
    try:
        with caplog.at_level(logging.WARNING, logger="test-fswatch-reader"):
            service.watch(str(tmp_path), seen.put, names=frozenset({"bin", "poke"}))
            assert service.watched_directories() == 1

            def broken(**kwargs: object) -> list[object]:
                raise OSError(errno.EIO, "injected read error")

            service.inotify.read_events = broken  # used from the read after the one under way
            (tmp_path / "poke").write_text("wake the reader")
            assert seen.get(timeout=10) == str(tmp_path / "poke")
            wait_for(lambda: "the inotify reader failed" in caplog.text, what="the failure logged")
        assert service.inotify is None and service.watched_directories() == 0
        (tmp_path / "bin").write_text("new")
        while (path := seen.get(timeout=10)) == str(tmp_path / "poke"):  # its create and its close
            pass
        assert path == str(tmp_path / "bin")
    finally:
        service.close()


def test_monitor_pointed_at_a_single_file(daemon, tmp_path: Path) -> None:
    settings = tmp_path / "app.ini"
    settings.write_text("v1")
    d = daemon(
        f"""
        [program:one]
        command = sleep 1000
        startsecs = 0
        restart_directory_monitor = {settings}
        """,
        supervisord=FAST,
    )
    d.wait_log(rf"watching {settings} for \* of one")
    (tmp_path / "neighbour.ini").write_text("not this one")
    staged = tmp_path / "app.ini.new"
    staged.write_text("v2")
    os.rename(staged, settings)
    d.wait_log(rf"restarting one: file {settings} changed$")
    wait_for(lambda: spawns(d, "one") == 2, what="the restart")
    assert d.stop() == 0
