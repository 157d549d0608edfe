"""``supervisord service install|uninstall|start|stop``: run supervisord under systemd (the Go README's
"注册服务"), or from a plain init script (``--sysv``) where there is no systemd.

systemd is the supervisor of supervisord here, so the unit runs it in the foreground (``-n``) with
``Type=notify`` (the daemon says READY=1 once its first autostart wave has forked and HTTP listens, see
:mod:`supervisord.sdnotify`) and ``KillMode=mixed``: SIGTERM goes to supervisord alone, which stops its
children in priority order, and only what is left after the stop timeout is SIGKILLed as a group.
``--root DIR`` (or ``SUPERVISORD_SERVICE_ROOT``) writes under another root without touching systemd, for
packaging and tests; ``SUPERVISORD_SYSTEMCTL`` names the systemctl to run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence

SERVICE_NAME = "supervisord"
UNIT_DIR = os.path.join("etc", "systemd", "system")
INIT_DIR = os.path.join("etc", "init.d")
SYSTEMD_RUNNING = "/run/systemd/system"  # exists exactly when systemd is the running init (sd_booted)


def systemd_quote(word: str) -> str:
    """Quote one ExecStart word for systemd (double quotes, backslash escapes; ``%`` doubled)."""
    word = word.replace("%", "%%")
    if word and not any(c in word for c in " \t\n\"\\'$;"):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
    return f'"{escaped}"'


def supervisord_command() -> list[str]:
    """This installation's ``supervisord``: the console script next to the interpreter, else ``-m``."""
    script = os.path.join(os.path.dirname(sys.executable), "supervisord")
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-m", "supervisord"]


# What a service gets when its unit says nothing: systemd's default descriptor limits (since v240), and for
# processes the kernel's per-user default (``threads-max / 2``), which services inherit from PID 1.
SYSTEMD_NOFILE = (1024, 524288)
FALLBACK_NPROC = 4096


def default_nproc() -> int:
    """The kernel's default process limit (``threads-max / 2``), what systemd hands a unit without one."""
    try:
        with open("/proc/sys/kernel/threads-max") as fh:
            return max(int(fh.read()) // 2, 1)
    except (OSError, ValueError):
        return FALLBACK_NPROC


def limit_lines(minfds: int, minprocs: int) -> str:
    """``LimitNOFILE``/``LimitNPROC`` (soft:hard) at least ``minfds``/``minprocs``, never below the defaults.

    A unit limit sets the hard limit too, so a bare ``LimitNOFILE=1024`` would stop the daemon raising its
    soft limit to a ``minfds`` above it, and would cap every child's hard limit; lowering the process limit
    to ``minprocs`` would cap how many processes a child's user may run. So each limit is the default
    systemd would give, raised to what the config asks for.
    """
    soft, hard = SYSTEMD_NOFILE
    nproc = max(minprocs, default_nproc())
    return f"LimitNOFILE={max(minfds, soft)}:{max(minfds, hard)}\nLimitNPROC={nproc}:infinity\n"


def render_unit(config: str, env_file: str | None = None, *, minfds: int = 1024, minprocs: int = 200) -> str:
    """The unit file text for ``config`` (an absolute path) whose ``[supervisord]`` asks these limits."""
    argv = [*supervisord_command(), "-c", config, "-n"]
    if env_file:
        argv += ["--env-file", env_file]
    exec_start = " ".join(systemd_quote(word) for word in argv)
    return (
        "[Unit]\n"
        "Description=supervisord-py process control system\n"
        "Documentation=http://supervisord.org\n"
        "After=network.target\n"
        "\n"
        "[Service]\n"
        "Type=notify\n"
        f"ExecStart={exec_start}\n"
        "ExecReload=/bin/kill -HUP $MAINPID\n"
        "KillMode=mixed\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=60\n"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        f"{limit_lines(minfds, minprocs)}"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def unit_path(root: str) -> str:
    return os.path.join(root, UNIT_DIR, f"{SERVICE_NAME}.service")


def init_script_path(root: str) -> str:
    return os.path.join(root, INIT_DIR, SERVICE_NAME)


_INIT_SCRIPT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          supervisord
# Required-Start:    $remote_fs $network
# Required-Stop:     $remote_fs $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: supervisord-py process control system
### END INIT INFO
# Written by `supervisord service install --sysv`, for hosts without systemd.
COMMAND={command}
PIDFILE={pidfile}
STOP_TIMEOUT={timeout}

# A process that has exited but not been reaped yet (a zombie: an init that reaps lazily) is not running.
alive() {{
    kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    case "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null)" in Z*) return 1 ;; esac
    return 0
}}

running() {{
    [ -s "$PIDFILE" ] && alive "$(cat "$PIDFILE")"
}}

case "$1" in
start)
    if running; then echo "supervisord is already running"; exit 0; fi
    # -d returns once the daemon serves, or with its error and a non-zero status.
    $COMMAND -d || exit 1
    echo "supervisord started"
    ;;
stop)
    if ! running; then echo "supervisord is not running"; exit 0; fi
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    ticks=0
    while alive "$pid"; do
        ticks=$((ticks + 1))
        if [ "$ticks" -gt $((STOP_TIMEOUT * 10)) ]; then echo "supervisord did not stop"; exit 1; fi
        sleep 0.1 2>/dev/null || sleep 1
    done
    echo "supervisord stopped"
    ;;
restart|force-reload)
    "$0" stop && "$0" start
    ;;
reload)
    running && kill -HUP "$(cat "$PIDFILE")"
    ;;
status)
    if running; then echo "supervisord is running (pid $(cat "$PIDFILE"))"; exit 0; fi
    echo "supervisord is not running"
    exit 3
    ;;
*)
    echo "Usage: $0 {{start|stop|restart|reload|force-reload|status}}" >&2
    exit 2
    ;;
esac
"""


def render_init_script(config: str, pidfile: str, env_file: str | None = None, timeout: int = 60) -> str:
    """A POSIX sh init script that runs ``config`` daemonized (``-d``) and stops it by its pidfile."""
    argv = [*supervisord_command(), "-c", config]
    if env_file:
        argv += ["--env-file", env_file]
    command = shlex.quote(" ".join(shlex.quote(word) for word in argv))
    return _INIT_SCRIPT.format(command=command, pidfile=shlex.quote(pidfile), timeout=timeout)


def _systemctl(*args: str) -> int:
    """Run systemctl, reporting failure on stderr; returns its exit status (127 without systemd)."""
    exe = os.environ.get("SUPERVISORD_SYSTEMCTL")
    if not exe and not os.path.isdir(SYSTEMD_RUNNING):
        print(
            f"Error: systemd is not running on this host (no {SYSTEMD_RUNNING}); use "
            "`supervisord service install --sysv` for an init script, or run `supervisord -d`",
            file=sys.stderr,
        )
        return 127
    exe = exe or shutil.which("systemctl")
    if not exe:
        print("Error: systemctl not found (supervisord service needs systemd)", file=sys.stderr)
        return 127
    result = subprocess.run([exe, *args], check=False)
    if result.returncode != 0:
        print(f"Error: systemctl {' '.join(args)} exited {result.returncode}", file=sys.stderr)
    return result.returncode


def install(root: str, configuration: str | None, env_file: str | None, sysv: bool = False) -> int:
    from supervisord.config.errors import ConfigError
    from supervisord.config.loader import find_config, load_config

    config = os.path.abspath(configuration) if configuration else find_config(os.getcwd(), sys.argv[0])
    if not config or not os.path.isfile(config):
        print(
            f"Failed to install service {SERVICE_NAME}: no config file "
            f"({configuration or 'none found'}; pass -c FILE before `service`)",
            file=sys.stderr,
        )
        return 1
    try:
        settings = load_config(config).supervisord
    except ConfigError as exc:
        print(f"Failed to install service {SERVICE_NAME}: {exc}", file=sys.stderr)
        return 1
    env = os.path.abspath(env_file) if env_file else None
    if sysv:
        return _install_init_script(root, config, env)
    text = render_unit(config, env, minfds=settings.minfds, minprocs=settings.minprocs)
    path = unit_path(root)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as fh:
            fh.write(text)
        os.chmod(path + ".tmp", 0o644)
        os.replace(path + ".tmp", path)
    except OSError as exc:
        print(f"Failed to install service {SERVICE_NAME}: {exc}", file=sys.stderr)
        return 1
    if root == "/" and (_systemctl("daemon-reload") or _systemctl("enable", SERVICE_NAME)):
        return 1
    print(f"Succeed to install service {SERVICE_NAME}")
    return 0


def _install_init_script(root: str, config: str, env_file: str | None) -> int:
    """Write /etc/init.d/supervisord; the pidfile it stops by comes from the config, loaded now."""
    from supervisord.config.errors import ConfigError
    from supervisord.config.loader import load_config

    try:
        pidfile = load_config(config).supervisord.pidfile
    except ConfigError as exc:
        print(f"Failed to install service {SERVICE_NAME}: {exc}", file=sys.stderr)
        return 1
    path = init_script_path(root)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as fh:
            fh.write(render_init_script(config, pidfile, env_file))
        os.chmod(path + ".tmp", 0o755)
        os.replace(path + ".tmp", path)
    except OSError as exc:
        print(f"Failed to install service {SERVICE_NAME}: {exc}", file=sys.stderr)
        return 1
    print(f"Succeed to install service {SERVICE_NAME} ({path})")
    return 0


def uninstall(root: str, sysv: bool = False) -> int:
    path = init_script_path(root) if sysv else unit_path(root)
    if not os.path.exists(path):
        print(f"Failed to uninstall service {SERVICE_NAME}: {path} does not exist", file=sys.stderr)
        return 1
    if root == "/" and not sysv:
        _systemctl("stop", SERVICE_NAME)
        _systemctl("disable", SERVICE_NAME)
    try:
        os.unlink(path)
    except OSError as exc:
        print(f"Failed to uninstall service {SERVICE_NAME}: {exc}", file=sys.stderr)
        return 1
    if root == "/" and not sysv:
        _systemctl("daemon-reload")
    print(f"Succeed to uninstall service {SERVICE_NAME}")
    return 0


def control(action: str) -> int:
    """``systemctl start|stop``; without systemd, the init script ``--sysv`` installed, if any."""
    script = init_script_path("/")
    if (
        not os.environ.get("SUPERVISORD_SYSTEMCTL")
        and not os.path.isdir(SYSTEMD_RUNNING)
        and os.path.isfile(script)
    ):
        return subprocess.run(["/bin/sh", script, action], check=False).returncode
    if _systemctl(action, SERVICE_NAME):
        print(f"Failed to {action} service {SERVICE_NAME}", file=sys.stderr)
        return 1
    print(f"Succeed to {action} service {SERVICE_NAME}")
    return 0


def main(args: Sequence[str], configuration: str | None = None, env_file: str | None = None) -> int:
    p = argparse.ArgumentParser(prog="supervisord service", description="Manage the systemd service.")
    p.add_argument("action", choices=("install", "uninstall", "start", "stop"))
    p.add_argument(
        "--root",
        default=os.environ.get("SUPERVISORD_SERVICE_ROOT", "/"),
        help="install under this root instead of / (systemctl is not called then)",
    )
    p.add_argument("-c", "--configuration", metavar="FILE", help="config file the service runs with")
    p.add_argument("--sysv", action="store_true", help="an /etc/init.d script instead of a systemd unit")
    opts = p.parse_args(list(args))
    root = os.path.abspath(opts.root)
    if opts.action == "install":
        return install(root, opts.configuration or configuration, env_file, opts.sysv)
    if opts.action == "uninstall":
        return uninstall(root, opts.sysv)
    return control(opts.action)
