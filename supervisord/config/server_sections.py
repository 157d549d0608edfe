"""``[supervisord]``, ``[unix_http_server]``, ``[inet_http_server]`` and ``[supervisorctl]``.

These are the sections about the daemon itself and how clients reach it, as opposed to the processes it
runs (:mod:`supervisord.config.programs`). Relative paths resolve against the loader's ``cwd``, as
Supervisor resolves them against the daemon's working directory.
"""

from __future__ import annotations

import os
import tempfile

from supervisord.config import values as v
from supervisord.config.context import LoadContext
from supervisord.config.errors import report
from supervisord.config.expand import ExpansionNames
from supervisord.config.ini import IniDocument
from supervisord.config.model import (
    CtlConfig,
    InetHttpServerConfig,
    SupervisordConfig,
    UnixHttpServerConfig,
)
from supervisord.config.process_logs import DEFAULT_LOG_MAXBYTES
from supervisord.config.section import SectionReader

SUPERVISORD_KEYS = frozenset(
    {
        "logfile",
        "logfile_maxbytes",
        "logfile_backups",
        "loglevel",
        "pidfile",
        "umask",
        "nodaemon",
        "silent",
        "minfds",
        "minprocs",
        "nocleanup",
        "childlogdir",
        "user",
        "directory",
        "strip_ansi",
        "identifier",
        "environment",
        "config_watch",
        "watch_debounce",
        "watch_polling",
        "watch_poll_interval",
    }
)
# Ours (web/connections.py), in both server sections: what one client may cost.
_LIMIT_KEYS = frozenset({"request_maxbytes", "header_timeout", "idle_timeout"})
UNIX_HTTP_KEYS = frozenset({"file", "chmod", "chown", "username", "password"}) | _LIMIT_KEYS
# nodename, remotes: the Go GUI's; metrics_auth = false opens GET /metrics to scrapers
INET_HTTP_KEYS = (
    frozenset({"port", "username", "password", "nodename", "remotes", "metrics_auth"}) | _LIMIT_KEYS
)
CTL_KEYS = frozenset({"serverurl", "username", "password", "prompt", "history_file"})
_NO_PAIRS: tuple[tuple[str, str], ...] = ()
_AUTH_ERROR = (
    "Section [{section}] contains incomplete authentication: If a username or a password is specified, "
    "both the username and password must be specified"
)


def supervisord_section(ctx: LoadContext, r: SectionReader) -> SupervisordConfig:
    """The daemon's own settings; its ``environment`` is later merged under every program's."""
    ctx.warn_unknown_keys(r, SUPERVISORD_KEYS)
    names = ctx.env_names()
    environment = r.parse("environment", v.parse_environment, ctx.node_names(), _NO_PAIRS)
    user = r.checked_string("user", names, v.parse_user_spec)
    directory = r.string("directory", names)
    if directory is not None:
        directory = r.parse("directory", lambda text: _existing_dir(ctx, text), names, directory)
    return SupervisordConfig(
        logfile=r.parse(
            "logfile",
            lambda text: _daemon_logfile(ctx, text),
            names,
            os.path.join(ctx.cwd, "supervisord.log"),
        ),
        logfile_maxbytes=r.parse("logfile_maxbytes", v.parse_byte_size, names, DEFAULT_LOG_MAXBYTES),
        logfile_backups=r.parse("logfile_backups", v.int_at_least(0), names, 10),
        loglevel=r.parse("loglevel", v.parse_loglevel, names, "info"),
        pidfile=r.parse(
            "pidfile",
            lambda text: _existing_parent(ctx, text),
            names,
            os.path.join(ctx.cwd, "supervisord.pid"),
        ),
        umask=r.parse("umask", v.parse_octal, names, 0o022),
        nodaemon=r.parse("nodaemon", v.parse_bool, names, False),
        silent=r.parse("silent", v.parse_bool, names, False),
        minfds=r.parse("minfds", v.int_at_least(1), names, 1024),
        minprocs=r.parse("minprocs", v.int_at_least(1), names, 200),
        nocleanup=r.parse("nocleanup", v.parse_bool, names, False),
        childlogdir=r.parse(
            "childlogdir", lambda text: _existing_dir(ctx, text), names, tempfile.gettempdir()
        ),
        user=user,
        directory=directory,
        strip_ansi=r.parse("strip_ansi", v.parse_bool, names, False),
        identifier=r.string("identifier", names, "supervisor") or "supervisor",
        environment=environment,
        config_watch=r.parse("config_watch", v.parse_bool, names, False),
        watch_debounce=r.parse("watch_debounce", v.parse_seconds, names, 1.0),
        watch_polling=r.parse("watch_polling", v.parse_bool, names, False),
        watch_poll_interval=r.parse("watch_poll_interval", _positive_seconds, names, 2.0),
    )


def _positive_seconds(text: str) -> float:
    seconds = v.parse_seconds(text)
    if seconds <= 0:
        raise ValueError(f"expected a number of seconds > 0, got '{text}'")
    return seconds


def unix_http_server_section(ctx: LoadContext, doc: IniDocument) -> UnixHttpServerConfig | None:
    """The UNIX-socket RPC server, or None when the section is absent (no socket is opened)."""
    r = _optional_section(ctx, doc, "unix_http_server", UNIX_HTTP_KEYS)
    if r is None:
        return None
    names = ctx.env_names()
    file = r.string("file", names)
    if file is None:
        report(
            r.error(
                "section [unix_http_server] has no file value (expected file = /path/to/supervisor.sock)",
                "file",
            )
        )
        return None
    path = r.parse("file", lambda text: _existing_parent(ctx, text), names, file)
    chown = r.checked_string("chown", names, v.parse_user_spec)
    username, password = _auth(r, names)
    return UnixHttpServerConfig(
        file=path,
        chmod=r.parse("chmod", v.parse_octal, names, 0o700),
        chown=chown,
        username=username,
        password=password,
        request_maxbytes=_request_maxbytes(r, names),
        header_timeout=r.parse("header_timeout", v.parse_seconds, names, InetHttpServerConfig.header_timeout),
        idle_timeout=r.parse("idle_timeout", v.parse_seconds, names, InetHttpServerConfig.idle_timeout),
    )


def inet_http_server_section(ctx: LoadContext, doc: IniDocument) -> InetHttpServerConfig | None:
    """The TCP RPC/web server, or None when the section is absent."""
    r = _optional_section(ctx, doc, "inet_http_server", INET_HTTP_KEYS)
    if r is None:
        return None
    names = ctx.env_names()
    if r.string("port", names) is None:
        report(r.error("section [inet_http_server] has no port value (expected port = host:port)", "port"))
        return None
    host, port = r.parse("port", v.parse_inet_port, names, ("", 0))
    username, password = _auth(r, names)
    metrics_auth = r.parse("metrics_auth", v.parse_bool, names, True)
    return InetHttpServerConfig(
        host=host,
        port=port,
        username=username,
        password=password,
        metrics_auth=metrics_auth,
        request_maxbytes=_request_maxbytes(r, names),
        header_timeout=r.parse("header_timeout", v.parse_seconds, names, InetHttpServerConfig.header_timeout),
        idle_timeout=r.parse("idle_timeout", v.parse_seconds, names, InetHttpServerConfig.idle_timeout),
    )


def _request_maxbytes(r: SectionReader, names: ExpansionNames) -> int:
    """The largest request body a client may send (0: no cap); beyond it, 413."""
    return r.parse("request_maxbytes", v.parse_byte_size, names, InetHttpServerConfig.request_maxbytes)


def supervisorctl_section(ctx: LoadContext, doc: IniDocument) -> CtlConfig:
    """The client settings; an absent section means the defaults, not "no client"."""
    r = _optional_section(ctx, doc, "supervisorctl", CTL_KEYS)
    if r is None:
        return CtlConfig()
    names = ctx.env_names()
    history = r.string("history_file", names)
    return CtlConfig(
        serverurl=r.string("serverurl", names, CtlConfig.serverurl) or CtlConfig.serverurl,
        username=r.string("username", names),
        password=r.string("password", names),
        prompt=r.string("prompt", names, CtlConfig.prompt) or CtlConfig.prompt,
        history_file=os.path.expanduser(history) if history else None,
    )


def _optional_section(
    ctx: LoadContext, doc: IniDocument, name: str, known: frozenset[str]
) -> SectionReader | None:
    """A reader for ``[name]`` with its unknown keys already warned about, or None when it is absent."""
    section = doc.get(name)
    if section is None:
        return None
    reader = SectionReader(section)
    ctx.warn_unknown_keys(reader, known)
    return reader


def _auth(r: SectionReader, names: ExpansionNames) -> tuple[str | None, str | None]:
    """Username and password, which Supervisor only accepts together."""
    username = r.string("username", names)
    password = r.string("password", names)
    if (username is None) != (password is None):
        report(r.error(_AUTH_ERROR.format(section=r.name), "username" if password is None else "password"))
        return None, None
    return username, password


def _existing_parent(ctx: LoadContext, text: str) -> str:
    return v.require_parent_dir(v.absolute_path(text, ctx.cwd))


def _existing_dir(ctx: LoadContext, text: str) -> str:
    path = v.absolute_path(text.strip(), ctx.cwd)
    if not os.path.isdir(path):
        raise ValueError(f"expected an existing directory, got '{text}'")
    return path


def _daemon_logfile(ctx: LoadContext, text: str) -> str:
    """``syslog`` and the ``/dev`` streams are kept as words; anything else is a file in an existing dir."""
    body = text.strip()
    if body.lower() == "syslog":
        return "syslog"
    if body in ("/dev/stdout", "/dev/stderr", "/dev/null"):
        return body
    return _existing_parent(ctx, body)
