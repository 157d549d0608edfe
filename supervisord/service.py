"""``supervisord service install|uninstall|start|stop``: run supervisord under systemd (the Go README's
"注册服务").

systemd is the supervisor of supervisord here, so the unit runs it in the foreground (``-n``) with
``KillMode=mixed``: SIGTERM goes to supervisord alone, which stops its children in priority order, and only
what is left after the stop timeout is SIGKILLed as a group. ``--root DIR`` (or ``SUPERVISORD_SERVICE_ROOT``)
writes under another root without touching systemd, for packaging and tests; ``SUPERVISORD_SYSTEMCTL`` names
the systemctl to run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

SERVICE_NAME = "supervisord"
UNIT_DIR = os.path.join("etc", "systemd", "system")


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
        "Type=simple\n"
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


def _systemctl(*args: str) -> int:
    """Run systemctl, reporting failure on stderr; returns its exit status (127 when it is missing)."""
    exe = os.environ.get("SUPERVISORD_SYSTEMCTL") or shutil.which("systemctl")
    if not exe:
        print("Error: systemctl not found (supervisord service needs systemd)", file=sys.stderr)
        return 127
    result = subprocess.run([exe, *args], check=False)
    if result.returncode != 0:
        print(f"Error: systemctl {' '.join(args)} exited {result.returncode}", file=sys.stderr)
    return result.returncode


def install(root: str, configuration: str | None, env_file: str | None) -> int:
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
    text = render_unit(
        config,
        os.path.abspath(env_file) if env_file else None,
        minfds=settings.minfds,
        minprocs=settings.minprocs,
    )
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


def uninstall(root: str) -> int:
    path = unit_path(root)
    if not os.path.exists(path):
        print(f"Failed to uninstall service {SERVICE_NAME}: {path} does not exist", file=sys.stderr)
        return 1
    if root == "/":
        _systemctl("stop", SERVICE_NAME)
        _systemctl("disable", SERVICE_NAME)
    try:
        os.unlink(path)
    except OSError as exc:
        print(f"Failed to uninstall service {SERVICE_NAME}: {exc}", file=sys.stderr)
        return 1
    if root == "/":
        _systemctl("daemon-reload")
    print(f"Succeed to uninstall service {SERVICE_NAME}")
    return 0


def control(action: str) -> int:
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
    opts = p.parse_args(list(args))
    root = os.path.abspath(opts.root)
    if opts.action == "install":
        return install(root, opts.configuration or configuration, env_file)
    if opts.action == "uninstall":
        return uninstall(root)
    return control(opts.action)
