"""A lean daemon: it loads only what its config uses, and an idle process costs little memory.

Imports are observed from the outside with CPython's own import log (``PYTHONPROFILEIMPORTTIME``: one
stderr line per module as it is imported), so the daemon needs no introspection API. The modules below cost
megabytes of resident memory and start-up time (docs/performance.md, "rss"); each is imported where it is
first used.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import Daemon, wait_for
from rpcutil import free_port, inet_section, unix_proxy

from supervisord.actors.process import ProcessActor
from supervisord.config.model import ProcessConfig

# Never needed by a config without probes, Nacos, [fleet], watchers, cron, syslog, listeners or a browser.
OPTIONAL = (
    "requests",  # http probes, Nacos, the fleet
    "urllib3",
    "charset_normalizer",
    "watchdog",  # restart_when_binary_changed, restart_directory_monitor, config_watch
    "croniter",  # cron = …
    "etcd3gw",  # [fleet]
    "prometheus_client",  # GET /metrics
    "bottle",  # REST, the GUI, malformed XML-RPC
    "daemon",  # -d (python-daemon)
    "logging.handlers",  # logfile = syslog
    "xmlrpc.client",  # unusual XML-RPC bodies
    "supervisord.nacos.client",
    "supervisord.fleet.agent",
    "supervisord.fleet.store",
    "supervisord.runtime.fswatch",
    "supervisord.actors.listener",
    "supervisord.syslog",
    "supervisord.web.rest",
    "supervisord.web.gui",
    "supervisord.web.metrics",
    "supervisord.web.configcentre",
    "supervisord.web.routing",
    "supervisord.ctl",
    "supervisord.service",
    "supervisord.initconf",
    "supervisord.config.check",
)

IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.M)


def imported(stderr: str) -> set[str]:
    return set(IMPORT_LINE.findall(stderr))


def test_a_plain_config_loads_no_optional_surface(tmp_path: Path) -> None:
    port = free_port()
    sock = tmp_path / "s.sock"
    server = (
        inet_section(port)
        + f"[unix_http_server]\nfile = {sock}\n[supervisorctl]\nserverurl = unix://{sock}\n"
    )
    d = Daemon(
        tmp_path,
        "[program:cat]\ncommand = /bin/cat\nstartsecs = 0\n[program:idle]\ncommand = /bin/cat\nautostart = false\n",
        supervisord=server,
    )
    d.start(env={"PYTHONPROFILEIMPORTTIME": "1"})
    try:
        rpc: Any = unix_proxy(sock)
        wait_for(lambda: rpc.supervisor.getProcessInfo("cat")["statename"] == "RUNNING", what="cat to run")
        # What supervisorctl does day to day: status, start/stop, tail, the main log.
        ctl = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(d.config)]
        for args in (["status"], ["start", "idle"], ["stop", "idle"], ["tail", "cat"], ["maintail"]):
            done = subprocess.run([*ctl, *args], capture_output=True, text=True, cwd=tmp_path, timeout=60)
            assert done.returncode in (0, 3), (args, done.stdout, done.stderr)
        assert rpc.supervisor.getAllProcessInfo()[0]["name"] == "cat"
        assert d.stop() == 0
        modules = imported(d.stderr())
        assert "supervisord.daemon" in modules, d.stderr()[-2000:]  # the import log really was on
        loaded = sorted(name for name in OPTIONAL if name in modules)
        assert not loaded, f"a plain config imported {loaded}"
    finally:
        d.kill()


def test_a_process_actor_keeps_a_compact_instance_table() -> None:
    """CPython 3.11 stores up to 29 attributes of an instance in a shared-key table (~330 bytes); the 30th
    turns them into a dict of its own (~1.6 KB). With 1,000 programs that is 1.3 MB for one attribute: keep
    rarely used state in an attribute that groups it, or on demand, rather than adding a 30th."""
    config = ProcessConfig(name="p", group="p", program_name="p", command="/bin/true")
    actor = ProcessActor(config, 999, ctx=None)  # type: ignore[arg-type]  # not started: nothing runs
    try:
        assert len(vars(actor)) < 30, sorted(vars(actor))
    finally:
        actor.actor_stopped.set()


def test_malloc_arenas_are_capped_unless_the_environment_says_otherwise(tmp_path: Path) -> None:
    """glibc takes the cap (the daemon calls this before its threads start); MALLOC_ARENA_MAX wins."""
    import os
    import platform

    code = "from supervisord.runtime.malloc import limit_arenas; print(limit_arenas())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    capped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    glibc = platform.libc_ver()[0] == "glibc"
    assert capped.stdout.strip() == str(glibc)
    env["MALLOC_ARENA_MAX"] = "4"
    kept = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert kept.stdout.strip() == "False"
