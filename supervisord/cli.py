"""The ``supervisord`` command: run the daemon, or one of the subcommands (``version``, ``ctl`` …).

Options follow the Go project's README where it and Supervisor disagree (``-d`` daemonizes; Supervisor's
``-d DIR`` is offered as ``--directory`` only); everything else is Supervisor's flag set.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence

from supervisord import __version__
from supervisord.config.errors import ConfigError
from supervisord.config.loader import find_config
from supervisord.web.server import ListenError, bind_listeners

SUBCOMMANDS = ("version", "ctl", "service", "check", "init")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="supervisord",
        description="A process control system (drop-in for Supervisor 4).",
        epilog="subcommands: version, check, init, service, ctl <command> … (`supervisord ctl -h`)",
    )
    p.add_argument("-c", "--configuration", metavar="FILE", help="configuration file")
    p.add_argument("-n", "--nodaemon", action="store_true", help="run in the foreground (the default)")
    p.add_argument("-d", "--daemon", action="store_true", help="detach and run in the background")
    p.add_argument("--directory", metavar="DIR", help="directory to chdir to when daemonized")
    p.add_argument("-l", "--logfile", metavar="FILE", help="main log file")
    p.add_argument("-y", "--logfile_maxbytes", metavar="BYTES", help="rotate the main log at this size")
    p.add_argument("-z", "--logfile_backups", metavar="N", type=int, help="rotated main logs to keep")
    p.add_argument("-e", "--loglevel", metavar="LEVEL", help="critical|error|warn|info|debug|trace|blather")
    p.add_argument("-j", "--pidfile", metavar="FILE", help="pid file")
    p.add_argument("-i", "--identifier", metavar="STR", help="identifier of this supervisord")
    p.add_argument("-q", "--childlogdir", metavar="DIR", help="directory of AUTO child logs")
    p.add_argument("-k", "--nocleanup", action="store_true", default=None, help="keep AUTO child logs")
    p.add_argument("-s", "--silent", action="store_true", default=None, help="no log on stdout")
    p.add_argument("-t", "--strip_ansi", action="store_true", default=None, help="strip ANSI from child logs")
    p.add_argument("-u", "--user", metavar="USER", help="run supervisord as this user")
    p.add_argument("-m", "--umask", metavar="OCTAL", help="umask for supervisord")
    p.add_argument("-a", "--minfds", metavar="N", type=int, help="minimum free file descriptors")
    p.add_argument("--minprocs", metavar="N", type=int, help="minimum available processes")
    p.add_argument("--env-file", metavar="FILE", help="KEY=VALUE lines added to the environment first")
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    nacos = p.add_argument_group("config from Nacos (or [nacos] in the config file, or $SUPERVISORD_NACOS_*)")
    nacos.add_argument("--nacos-server", metavar="IP:PORT[,…]", help="Nacos servers, tried in turn")
    nacos.add_argument("--nacos-dataid", metavar="ID", help="the config's dataId")
    nacos.add_argument("--nacos-namespace", metavar="ID", help="namespace (tenant) id (default: public)")
    nacos.add_argument("--nacos-group", metavar="GROUP", help="group (default: DEFAULT_GROUP)")
    nacos.add_argument("--nacos-username", metavar="USER", help="log in as this user")
    nacos.add_argument("--nacos-password", metavar="PASSWORD", help="the user's password")
    nacos.add_argument(
        "--nacos-not-use-cache",
        action="store_const",
        const="true",
        help="never start from the local cache: fail if Nacos cannot be reached",
    )
    nacos.add_argument("--nacos-cache-dir", metavar="DIR", help="where the last good config is cached")
    p.add_argument("command", nargs="?", choices=SUBCOMMANDS, help=argparse.SUPPRESS)
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def config_path(explicit: str | None) -> str | None:
    if explicit:
        return os.path.abspath(explicit)
    return find_config(os.getcwd(), os.path.abspath(sys.argv[0]))


def load_env_file(path: str) -> None:
    """``--env-file``: KEY=VALUE lines (``export`` and quotes allowed) into os.environ, before the config."""
    from supervisord.config.values import read_dotenv

    for key, value in read_dotenv(path):
        os.environ[key] = value


def _overrides(opts: argparse.Namespace) -> dict[str, object]:
    from supervisord.config import values

    def opt(value: object, parse: Callable[[str], object]) -> object:
        return None if value is None else parse(str(value))

    cwd = os.getcwd()
    return {
        "logfile": opt(opts.logfile, lambda v: values.absolute_path(v, cwd)),
        "logfile_maxbytes": opt(opts.logfile_maxbytes, values.parse_byte_size),
        "logfile_backups": opts.logfile_backups,
        "loglevel": opt(opts.loglevel, values.parse_loglevel),
        "pidfile": opt(opts.pidfile, lambda v: values.absolute_path(v, cwd)),
        "identifier": opts.identifier,
        "childlogdir": opt(opts.childlogdir, lambda v: values.absolute_path(v, cwd)),
        "nocleanup": opts.nocleanup,
        "silent": opts.silent,
        "strip_ansi": opts.strip_ansi,
        "user": opts.user,
        "umask": opt(opts.umask, values.parse_octal),
        "minfds": opts.minfds,
        "minprocs": opts.minprocs,
        "directory": opts.directory,
    }


def fail(message: str, code: int = 2) -> int:
    """Supervisor's wording for a fatal startup problem: the error, then where to get help."""
    print(f"Error: {message}", file=sys.stderr)
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "supervisord"
    if program == "__main__.py":  # python -m supervisord
        program = "supervisord"
    print(f"For help, use {program} -h", file=sys.stderr)
    return code


def run_daemon(opts: argparse.Namespace) -> int:
    """Load, check limits and pidfile, bind, drop privileges, then serve here or (``-d``) detached.

    Everything that can fail for a reason the user should see happens before detaching, so it reaches the
    terminal; the daemon module (and with it gevent and pykka) is imported only once we really serve.
    """
    from supervisord import daemonize
    from supervisord.configsource import ConfigSource
    from supervisord.nacos.settings import ENV_PREFIX, KEYS

    path = config_path(opts.configuration)
    nacos_flags = {key: getattr(opts, f"nacos_{key}") for key in KEYS}
    from_nacos = any(v is not None for v in nacos_flags.values()) or ENV_PREFIX + "SERVER" in os.environ
    if path is None and not from_nacos:
        return fail(
            "No config file found at default paths ($CWD/supervisord.conf, $CWD/etc/supervisord.conf, "
            "/etc/supervisord.conf, /etc/supervisor/supervisord.conf, ../etc/supervisord.conf, "
            "../supervisord.conf); use the -c option to specify a config file at a different path"
        )
    try:
        overrides = _overrides(opts)
    except ValueError as exc:
        return fail(str(exc))

    load = ConfigSource(path, nacos_flags, overrides)
    try:
        config = load()
    except ConfigError as exc:
        return fail(str(exc))
    settings = config.supervisord
    try:
        daemonize.raise_rlimits(settings)
    except daemonize.StartupError as exc:
        return fail(str(exc))  # exit 2, like Supervisor's usage error for minfds/minprocs
    budget = daemonize.descriptor_budget(config)
    if budget is not None:
        config = dataclasses.replace(config, warnings=(*config.warnings, budget))
    try:
        if opts.daemon:
            daemonize.check_pidfile(settings.pidfile)
    except daemonize.StartupError as exc:
        return fail(str(exc), 1)
    try:
        listeners = bind_listeners(config)
    except ListenError as exc:
        return fail(str(exc), 1)
    # Import the runtime while we can still read every file: after the switch to ``user`` the interpreter's
    # own library directory may be unreadable (a pyenv under /root, say).
    from supervisord import daemon

    if settings.user:
        daemonize.preload_runtime()
    try:
        daemonize.drop_privileges(settings.user)
    except daemonize.StartupError as exc:
        listeners.close()
        return fail(str(exc), 1)

    if not opts.daemon:
        try:
            return daemon.serve(config, load, listeners, foreground=True)
        finally:
            load.close()  # the Nacos listener, if any

    def run(readiness: daemonize.Readiness) -> int:
        try:
            return daemon.serve(config, load, listeners, foreground=False, ready=readiness.ready)
        finally:
            load.close()

    return daemonize.detach(
        run,
        keep_fds=listeners.fds(),
        umask=settings.umask,
        directory=settings.directory,
        report=lambda message: fail(message, 1),
    )


def run_check(opts: argparse.Namespace) -> int:
    """``supervisord check [-c FILE]``: print every config error as ``file:line: [section] key: problem``.

    Exits 0 when the daemon would load the file, 2 otherwise (the daemon's own exit code for a bad config).
    """
    from supervisord.config.check import check_config

    p = argparse.ArgumentParser(prog="supervisord check", description="Check a config file and its includes.")
    p.add_argument("-c", "--configuration", metavar="FILE", help="configuration file")
    sub = p.parse_args(opts.args)
    path = config_path(sub.configuration or opts.configuration)
    if path is None:
        return fail("No config file found at default paths; use -c FILE")
    result = check_config(path)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in result.errors:
        print(error)
    if result.errors:
        print(f"{path}: {len(result.errors)} error(s)", file=sys.stderr)
        return 2
    files = 1 + len(result.included_files)
    print(f"{path}: OK ({files} file(s), {result.programs} process(es))", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    if opts.version or opts.command == "version":
        print(__version__)
        if opts.command == "version" and getattr(sys, "frozen", False):
            from supervisord.buildinfo import describe

            print(describe())  # the binary says how it was built (a package keeps Go's one-line output)
        return 0
    if opts.env_file:
        try:
            load_env_file(opts.env_file)
        except (OSError, ValueError) as exc:
            return fail(f"--env-file {opts.env_file}: {exc}")
    if opts.command == "ctl":
        from supervisord.ctl import main as ctl_main

        return ctl_main(opts.args, configuration=opts.configuration)
    if opts.command == "check":
        return run_check(opts)
    if opts.command == "init":
        from supervisord.initconf import main as init_main

        return init_main(opts.args)
    if opts.command == "service":
        from supervisord.service import main as service_main

        return service_main(opts.args, configuration=opts.configuration, env_file=opts.env_file)
    return run_daemon(opts)
