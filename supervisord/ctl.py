"""``supervisord ctl``: a non-interactive supervisorctl built into the one binary (the Go project's idea).

Options, output lines and exit codes follow Supervisor's supervisorctl so existing scripts keep working;
the server URL is found in the Go README's order (``-s``, then ``[supervisorctl] serverurl`` of ``-c``, then
of the auto-detected config file, then ``http://localhost:9001``). This module only works out *where* and
*as whom* to connect and turns transport failures into supervisorctl's messages; the commands themselves
live in :mod:`supervisord.ctlcommands`.
"""

from __future__ import annotations

import argparse
import errno
import http.client
import os
import socket
import sys
import xmlrpc.client
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from supervisord.config.errors import ConfigError
from supervisord.config.expand import environ_names, expand
from supervisord.config.ini import read_ini
from supervisord.config.loader import find_config
from supervisord.rpcclient import DEFAULT_TIMEOUT, Endpoint, StreamError

DEFAULT_SERVERURL = "http://localhost:9001"

# LSB init-script exit statuses, as supervisorctl uses them.
EXIT_OK = 0
EXIT_GENERIC = 1
EXIT_INVALID_ARGS = 2


@dataclass(frozen=True)
class CtlSection:
    """The keys of one file's ``[supervisorctl]`` section that matter to the client (None = absent)."""

    path: str
    serverurl: str | None = None
    username: str | None = None
    password: str | None = None


def read_ctl_section(path: str) -> CtlSection:
    """Only ``[supervisorctl]`` is read, like supervisorctl does: a broken ``[program:x]`` elsewhere must not
    stop anyone from running ``ctl stop`` against the daemon."""
    doc = read_ini(path)
    section = doc.get("supervisorctl")
    if section is None:
        return CtlSection(path)
    here = os.path.dirname(os.path.abspath(path))
    names: dict[str, str | int] = {"here": here, **environ_names(os.environ)}

    def value(key: str) -> str | None:
        raw = section.get(key)
        if raw is None:
            return None
        text = expand(
            raw.value, names, file=raw.file, line=raw.line, section="supervisorctl", key=key
        ).strip()
        return text or None

    url = value("serverurl")
    if url is not None and url.startswith("unix://"):
        url = "unix://" + os.path.abspath(os.path.expanduser(url[len("unix://") :]))
    return CtlSection(path, url, value("username"), value("password"))


def resolve_endpoint(opts: argparse.Namespace, configuration: str | None) -> Endpoint:
    """Apply the lookup order for the URL; credentials come from flags, else the first file that has them."""
    explicit = opts.configuration or configuration
    sections: list[CtlSection] = []
    if explicit:
        path = os.path.abspath(explicit)
        if not os.path.isfile(path):
            raise ValueError(f"could not find config file {explicit}")
        sections.append(read_ctl_section(path))
    auto = find_config(os.getcwd(), os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "")
    if auto is not None and not any(os.path.samefile(auto, s.path) for s in sections):
        sections.append(read_ctl_section(auto))
    url = opts.serverurl or next((s.serverurl for s in sections if s.serverurl), DEFAULT_SERVERURL)
    username, password = opts.username, opts.password
    if username is None:
        found = next((s for s in sections if s.username), None)
        if found is not None:
            username = found.username
            password = password if password is not None else found.password
    if password is None:
        password = next((s.password for s in sections if s.password), None)
    return Endpoint.parse(url, username, password, opts.timeout)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="supervisord ctl",
        description="Control a running supervisord (supervisorctl-compatible commands and exit codes).",
        epilog="commands: " + ", ".join(_command_names()) + "  (`supervisord ctl help <command>`)",
    )
    p.add_argument("-c", "--configuration", metavar="FILE", help="read [supervisorctl] from FILE")
    p.add_argument("-s", "--serverurl", metavar="URL", help="http://host:port or unix:///path/to/socket")
    p.add_argument("-u", "--username", metavar="USER", help="username for HTTP basic auth")
    p.add_argument("-p", "-P", "--password", metavar="PASS", help="password for HTTP basic auth")
    p.add_argument(
        "-t",
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"give up on an unresponsive server after this long (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument("command", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _command_names() -> list[str]:
    from supervisord.ctlcommands import COMMANDS

    return sorted(COMMANDS)


def describe_transport_error(exc: BaseException, url: str) -> str | None:
    """supervisorctl's wording for the socket errors a user can act on; None for anything else."""
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return f"{url} refused connection"
    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
        return f"{url} no such file"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"{url} timed out"
    return None


def run(argv: Sequence[str], configuration: str | None = None, *, stdout: TextIO | None = None) -> int:
    """Parse, connect, run one command; return its exit status (never raises for server trouble)."""
    from supervisord.ctlcommands import Controller

    out = stdout or sys.stdout
    opts = build_parser().parse_args(list(argv))
    try:
        endpoint = resolve_endpoint(opts, configuration)
    except (ValueError, ConfigError, OSError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_INVALID_ARGS
    if opts.command is None:
        build_parser().print_usage(sys.stderr)
        print("Error: a command is required (try `supervisord ctl help`)", file=sys.stderr)
        return EXIT_INVALID_ARGS
    ctl = Controller(endpoint, out)
    try:
        ctl.onecmd(opts.command, list(opts.args))
    except KeyboardInterrupt:
        ctl.output("")
    except xmlrpc.client.ProtocolError as exc:
        ctl.rc = EXIT_GENERIC
        if exc.errcode == 401:
            ctl.output("Server requires authentication")
        else:
            ctl.output(f"error: {endpoint.url} answered HTTP {exc.errcode} {exc.errmsg}")
    except StreamError as exc:
        ctl.rc = EXIT_GENERIC
        print(str(exc), file=sys.stderr)
    except xmlrpc.client.Fault as exc:
        ctl.rc = EXIT_GENERIC
        ctl.output(f"error: {type(exc)}, {exc}")
    except OSError as exc:
        ctl.rc = EXIT_GENERIC
        ctl.output(describe_transport_error(exc, endpoint.url) or f"error: {endpoint.url}: {exc}")
    except (xmlrpc.client.ResponseError, http.client.HTTPException, ValueError) as exc:
        ctl.rc = EXIT_GENERIC
        ctl.output(f"error: {type(exc)}, {exc}")
    out.flush()
    return ctl.rc


def main(argv: Sequence[str], configuration: str | None = None) -> int:
    """Entry point used by ``supervisord ctl …`` (``configuration`` is a ``-c`` given before ``ctl``)."""
    return run(argv, configuration)
