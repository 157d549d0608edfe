"""The config loader: real files in tmp_path, asserted on the resulting dataclasses and error texts."""

from __future__ import annotations

import os
import platform
import signal
import tempfile
import textwrap
from pathlib import Path

import pytest

from supervisord.config import loader
from supervisord.config.errors import ConfigError
from supervisord.config.loader import candidate_paths, find_config, load_config
from supervisord.config.model import (
    AutoRestart,
    Config,
    CtlConfig,
    GroupKind,
    LogDestination,
    LogKind,
    ProcessConfig,
    StreamLogConfig,
    SyslogConfig,
    WatchConfig,
)

ENV = {"HOME": "/home/u", "SHELL": "/bin/sh"}
TERM, INT, KILL, HUP = int(signal.SIGTERM), int(signal.SIGINT), int(signal.SIGKILL), int(signal.SIGHUP)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load(tmp_path: Path, text: str, *, environ: dict[str, str] | None = None) -> Config:
    path = write(tmp_path / "supervisord.conf", text)
    return load_config(str(path), environ=ENV if environ is None else environ, cwd=str(tmp_path))


def fails(tmp_path: Path, text: str, *, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, environ=environ)
    return info.value


def proc(config: Config, name: str) -> ProcessConfig:
    for group in config.groups:
        for process in group.processes:
            if process.name == name:
                return process
    raise AssertionError(f"no process {name}")


def conf_path(tmp_path: Path) -> str:
    return str(tmp_path / "supervisord.conf")


# ============================================================================ [supervisord]


def test_minimal_config_gets_supervisor_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n")
    sup = config.supervisord
    assert config.path == conf_path(tmp_path)
    assert sup.logfile == str(tmp_path / "supervisord.log")
    assert sup.pidfile == str(tmp_path / "supervisord.pid")
    assert sup.childlogdir == tempfile.gettempdir()
    assert (sup.logfile_maxbytes, sup.logfile_backups, sup.loglevel) == (50 * 1024 * 1024, 10, "info")
    assert (sup.umask, sup.nodaemon, sup.silent, sup.minfds, sup.minprocs) == (0o022, False, False, 1024, 200)
    assert (sup.nocleanup, sup.user, sup.directory, sup.strip_ansi) == (False, None, None, False)
    assert (sup.identifier, sup.environment) == ("supervisor", ())
    assert config.groups == ()
    assert config.inet_http_server is None and config.unix_http_server is None
    assert config.supervisorctl == CtlConfig()
    assert config.included_files == () and config.warnings == ()


def test_missing_supervisord_section(tmp_path: Path) -> None:
    err = fails(tmp_path, "[program:a]\ncommand = /bin/cat\n")
    assert err.file == conf_path(tmp_path)
    assert ".ini file does not include supervisord section" in err.message


def test_every_supervisord_key(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "children").mkdir()
    config = load(
        tmp_path,
        """
        [supervisord]
        logfile = logs/main.log
        logfile_maxbytes = 1MB
        logfile_backups = 3
        loglevel = WARNING
        pidfile = %(here)s/run.pid
        umask = 002
        nodaemon = true
        silent = yes
        minfds = 2048
        minprocs = 300
        nocleanup = on
        childlogdir = children
        user = root
        directory = /
        strip_ansi = 1
        identifier = ident-%(ENV_HOME)s
        environment = A="1",NODE="%(host_node_name)s",H=%(ENV_HOME)s
        """,
    )
    sup = config.supervisord
    assert sup.logfile == str(tmp_path / "logs" / "main.log")
    assert (sup.logfile_maxbytes, sup.logfile_backups, sup.loglevel) == (1024 * 1024, 3, "warn")
    assert sup.pidfile == str(tmp_path / "run.pid")
    assert (sup.umask, sup.nodaemon, sup.silent, sup.minfds, sup.minprocs) == (0o002, True, True, 2048, 300)
    assert sup.nocleanup is True
    assert sup.childlogdir == str(tmp_path / "children")
    assert (sup.user, sup.directory, sup.strip_ansi) == ("root", "/", True)
    assert sup.identifier == "ident-/home/u"
    assert sup.environment == (("A", "1"), ("NODE", platform.node()), ("H", "/home/u"))
    assert config.warnings == ()


@pytest.mark.parametrize("special", ["syslog", "/dev/stdout", "/dev/stderr"])
def test_supervisord_logfile_special_values_kept(tmp_path: Path, special: str) -> None:
    assert load(tmp_path, f"[supervisord]\nlogfile = {special}\n").supervisord.logfile == special


def test_relative_paths_use_cwd_not_config_dir(tmp_path: Path) -> None:
    path = write(
        tmp_path / "conf" / "sv.conf", "[supervisord]\nlogfile = main.log\npidfile = %(here)s/x.pid\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    config = load_config(str(path), environ=ENV, cwd=str(work))
    assert config.supervisord.logfile == str(work / "main.log")
    assert config.supervisord.pidfile == str(tmp_path / "conf" / "x.pid")


def test_load_config_relative_path_resolved_against_cwd(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "a.conf", "[supervisord]\n")
    config = load_config("sub/a.conf", environ=ENV, cwd=str(tmp_path))
    assert config.path == str(tmp_path / "sub" / "a.conf")


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "none.conf"), environ=ENV, cwd=str(tmp_path))
    assert info.value.file == str(tmp_path / "none.conf")


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ("logfile = /nonexistent/dir/x.log", "logfile", "The directory named as part of the path"),
        ("pidfile = nothere/x.pid", "pidfile", "does not exist"),
        ("logfile_maxbytes = 10xb", "logfile_maxbytes", "expected a byte size"),
        ("logfile_backups = -1", "logfile_backups", "expected an integer >= 0, got '-1'"),
        ("loglevel = chatty", "loglevel", "expected a log level"),
        ("umask = 9", "umask", "expected an octal number"),
        ("nodaemon = maybe", "nodaemon", "expected a boolean"),
        ("silent = 2", "silent", "expected a boolean"),
        ("minfds = 0", "minfds", "expected an integer >= 1, got '0'"),
        ("minprocs = lots", "minprocs", "expected an integer >= 1"),
        ("nocleanup = x", "nocleanup", "expected a boolean"),
        ("childlogdir = /nonexistent/dir", "childlogdir", "expected an existing directory"),
        ("user = no_such_user_x", "user", "expected an existing user name or uid"),
        ("directory = /nonexistent/dir", "directory", "expected an existing directory"),
        ("strip_ansi = perhaps", "strip_ansi", "expected a boolean"),
        ("environment = A", "environment", "expected KEY=value pairs"),
        ("identifier = %(host_node_name)s", "identifier", "cannot be expanded"),
    ],
)
def test_supervisord_value_errors(tmp_path: Path, line: str, key: str, words: str) -> None:
    err = fails(tmp_path, f"[supervisord]\n; comment\n{line}\n")
    assert (err.file, err.line, err.section, err.key) == (conf_path(tmp_path), 3, "supervisord", key)
    assert words in err.message
    assert str(err).startswith(f"{conf_path(tmp_path)}:3: [supervisord] {key}: ")


def test_unknown_expansion_names_the_name_and_the_available_ones(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\nlogfile = %(nope)s/x.log\n")
    assert "('nope')" in err.message
    assert "Available names: here, ENV_HOME, ENV_SHELL" in err.message


def test_literal_percent_must_be_doubled(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\nidentifier = 100%\n")
    assert err.key == "identifier" and "'%%'" in err.message
    assert load(tmp_path, "[supervisord]\nidentifier = 100%%\n").supervisord.identifier == "100%"


# ============================================================================ servers and ctl


def test_unix_http_server(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [unix_http_server]
        file = run/sv.sock
        chmod = 0770
        chown = root:0
        username = u
        password = {SHA}abc
        """.replace("run/", ""),
    )
    unix = config.unix_http_server
    assert unix is not None
    assert unix.file == str(tmp_path / "sv.sock")
    assert (unix.chmod, unix.chown, unix.username, unix.password) == (0o770, "root:0", "u", "{SHA}abc")


def test_unix_http_server_defaults_and_here(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[unix_http_server]\nfile = %(here)s/s.sock\n")
    unix = config.unix_http_server
    assert unix is not None
    assert (unix.file, unix.chmod, unix.chown, unix.username) == (str(tmp_path / "s.sock"), 0o700, None, None)


@pytest.mark.parametrize(
    ("body", "line", "key", "words"),
    [
        ("chmod = 0700\n", 2, "file", "section [unix_http_server] has no file value"),
        ("file = s.sock\nchmod = rw\n", 4, "chmod", "expected an octal number"),
        ("file = s.sock\nchown = no_such_user_x\n", 4, "chown", "expected an existing user"),
        ("file = /nonexistent/dir/s.sock\n", 3, "file", "does not exist"),
        ("file = s.sock\nusername = u\n", 4, "username", "contains incomplete authentication"),
        ("file = s.sock\npassword = p\n", 4, "password", "both the username and password must be specified"),
    ],
)
def test_unix_http_server_errors(tmp_path: Path, body: str, line: int, key: str, words: str) -> None:
    err = fails(tmp_path, "[supervisord]\n[unix_http_server]\n" + body)
    assert (err.line, err.section, err.key) == (line, "unix_http_server", key)
    assert words in err.message


@pytest.mark.parametrize(
    ("port", "host", "number"),
    [("127.0.0.1:9001", "127.0.0.1", 9001), ("*:9002", "", 9002), (":9003", "", 9003), ("9004", "", 9004)],
)
def test_inet_http_server_port_forms(tmp_path: Path, port: str, host: str, number: int) -> None:
    inet = load(tmp_path, f"[supervisord]\n[inet_http_server]\nport = {port}\n").inet_http_server
    assert inet is not None
    assert (inet.host, inet.port, inet.username, inet.password) == (host, number, None, None)


def test_inet_http_server_auth_and_go_keys(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[supervisord]\n[inet_http_server]\nport = :1\nusername = u\npassword = p\n"
        "nodename = n\nremotes = a:b:1\n",
    )
    assert config.inet_http_server is not None
    assert (config.inet_http_server.username, config.inet_http_server.password) == ("u", "p")
    assert config.warnings == ()


@pytest.mark.parametrize(
    ("body", "line", "key", "words"),
    [
        ("username = u\n", 2, "port", "section [inet_http_server] has no port value"),
        ("port = localhost:http\n", 3, "port", "expected 'host:port'"),
        ("port = 9001\nusername = u\n", 4, "username", "incomplete authentication"),
    ],
)
def test_inet_http_server_errors(tmp_path: Path, body: str, line: int, key: str, words: str) -> None:
    err = fails(tmp_path, "[supervisord]\n[inet_http_server]\n" + body)
    assert (err.line, err.key) == (line, key)
    assert words in err.message


def test_supervisorctl(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [supervisorctl]
        serverurl = unix://%(here)s/s.sock
        username = u
        password = p
        prompt = mine
        history_file = ~/.sc_history
        """,
    )
    assert config.supervisorctl == CtlConfig(
        serverurl=f"unix://{tmp_path}/s.sock",
        username="u",
        password="p",
        prompt="mine",
        history_file=os.path.expanduser("~/.sc_history"),
    )


def test_supervisorctl_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "[supervisord]\n[supervisorctl]\n").supervisorctl == CtlConfig()


# ============================================================================ sections and unknown keys


def test_rpcinterface_and_ctlplugin_are_accepted_silently(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        [ctlplugin:x]
        supervisor.ctl_factory = x:y
        """,
    )
    assert config.warnings == ()


def test_unknown_section_warns(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[mystery]\na = 1\n")
    assert config.warnings == (f"{conf_path(tmp_path)}:2: [mystery] unknown section, ignored",)


def test_fcgi_program_is_rejected(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[fcgi-program:f]\ncommand = /bin/cat\nsocket = tcp://h:1\n")
    assert (err.line, err.section) == (2, "fcgi-program:f")
    assert "fcgi-program sections are not supported" in err.message


def test_unknown_keys_warn_with_file_line_section_key(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        logfiel = x
        [program:a]
        command = /bin/cat
        kron = * * * * * *
        [inet_http_server]
        port = 1
        colour = red
        """,
    )
    path = conf_path(tmp_path)
    assert config.warnings == (
        f"{path}:2: [supervisord] logfiel: unknown key, ignored",
        f"{path}:5: [program:a] kron: unknown key, ignored",
        f"{path}:8: [inet_http_server] colour: unknown key, ignored",
    )


def test_ini_syntax_error_is_reported(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\nthis is not a pair\n")
    assert (err.file, err.line) == (conf_path(tmp_path), 2)


# ============================================================================ programs


def test_program_defaults_match_the_model(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n\n[program:cat]\ncommand = /bin/cat\n")
    assert len(config.groups) == 1
    group = config.groups[0]
    assert (group.name, group.kind, group.priority, group.pool) == ("cat", GroupKind.PROGRAM, 999, None)
    expected = ProcessConfig(
        name="cat",
        group="cat",
        program_name="cat",
        command="/bin/cat",
        source_file=conf_path(tmp_path),
        source_line=3,
    )
    assert group.processes == (expected,)
    process = group.processes[0]
    assert process.stdout == StreamLogConfig() and process.stdout.destinations == (
        LogDestination(LogKind.AUTO),
    )
    assert process.namespec == "cat"
    assert (process.startsecs, process.stopwaitsecs, process.killwaitsecs, process.restartpause) == (
        1,
        10,
        2,
        0,
    )
    assert process.stopsignals == (TERM,) and process.exitcodes == frozenset({0})
    assert process.autorestart is AutoRestart.UNEXPECTED


def test_every_program_key(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    config = load(
        tmp_path,
        """
        [supervisord]
        [program:web]
        command = /usr/bin/web --port 80%(process_num)02d
        process_name = %(program_name)s-%(process_num)s
        numprocs = 2
        numprocs_start = 1
        priority = 50
        autostart = false
        autorestart = true
        startsecs = 0.5
        startretries = 7
        exitcodes = 0,2
        stopsignal = TERM INT KILL
        stopwaitsecs = 3
        killwaitsecs = 4
        stopasgroup = true
        killasgroup = true
        restartpause = 1.5
        user = root
        directory = /srv/%(process_num)s
        umask = 027
        redirect_stderr = false
        stdout_logfile = logs/out-%(process_num)s.log, /dev/stdout
        stdout_logfile_maxbytes = 1KB
        stdout_logfile_backups = 2
        stdout_capture_maxbytes = 1MB
        stdout_events_enabled = true
        stdout_syslog = true
        stderr_logfile = NONE
        stderr_logfile_maxbytes = 0
        stderr_logfile_backups = 0
        stderr_capture_maxbytes = 2KB
        stderr_events_enabled = yes
        stderr_syslog = on
        environment = A="1",B="%(process_num)s"
        serverurl = http://127.0.0.1:9001
        syslog_facility = LOCAL3
        syslog_tag = web%(process_num)s
        syslog_stdout_priority = notice
        syslog_stderr_priority = WARN
        restart_when_binary_changed = true
        restart_cmd_when_binary_changed = /bin/reload
        restart_signal_when_binary_changed = HUP
        restart_directory_monitor = watched
        restart_file_pattern = *.py
        restart_cmd_when_file_changed = /bin/refresh
        restart_signal_when_file_changed = USR1, USR2
        """,
    )
    assert config.warnings == ()
    group = config.groups[0]
    assert (group.name, group.priority, [p.name for p in group.processes]) == ("web", 50, ["web-1", "web-2"])
    p = group.processes[1]
    assert (p.name, p.group, p.program_name, p.process_num, p.numprocs) == ("web-2", "web", "web", 2, 2)
    assert p.namespec == "web:web-2"
    assert p.command == "/usr/bin/web --port 8002"
    assert (p.priority, p.autostart, p.autorestart) == (50, False, AutoRestart.ALWAYS)
    assert (p.startsecs, p.startretries, p.exitcodes) == (0.5, 7, frozenset({0, 2}))
    assert (p.stopsignals, p.stopwaitsecs, p.killwaitsecs) == ((TERM, INT, KILL), 3, 4)
    assert (p.stopasgroup, p.killasgroup, p.restartpause) == (True, True, 1.5)
    assert (p.user, p.directory, p.umask, p.redirect_stderr) == ("root", "/srv/2", 0o027, False)
    assert p.stdout == StreamLogConfig(
        destinations=(
            LogDestination(LogKind.FILE, path=str(tmp_path / "logs" / "out-2.log")),
            LogDestination(LogKind.STDOUT),
        ),
        maxbytes=1024,
        backups=2,
        capture_maxbytes=1024 * 1024,
        events_enabled=True,
        syslog=True,
    )
    assert p.stderr == StreamLogConfig(
        destinations=(LogDestination(LogKind.NULL),),
        maxbytes=0,
        backups=0,
        capture_maxbytes=2048,
        events_enabled=True,
        syslog=True,
    )
    assert p.environment == (("A", "1"), ("B", "2"))
    assert p.serverurl == "http://127.0.0.1:9001"
    assert p.syslog == SyslogConfig(
        facility="local3", tag="web2", stdout_priority="notice", stderr_priority="warning"
    )
    assert p.watch == WatchConfig(
        restart_when_binary_changed=True,
        restart_cmd_when_binary_changed="/bin/reload",
        restart_signal_when_binary_changed=(HUP,),
        restart_directory_monitor=str(tmp_path / "watched"),
        restart_file_pattern="*.py",
        restart_cmd_when_file_changed="/bin/refresh",
        restart_signal_when_file_changed=(int(signal.SIGUSR1), int(signal.SIGUSR2)),
    )
    assert group.processes[0].command == "/usr/bin/web --port 8001"


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ("priority = high", "priority", "expected an integer, got 'high'"),
        ("autostart = maybe", "autostart", "expected a boolean"),
        ("autorestart = sometimes", "autorestart", "expected true, false or unexpected, got 'sometimes'"),
        ("startsecs = -1", "startsecs", "expected a number of seconds >= 0"),
        ("startretries = -1", "startretries", "expected an integer >= 0"),
        (
            "exitcodes = 0,256",
            "exitcodes",
            "expected a comma-separated list of exit codes 0-255, got '0,256'",
        ),
        ("stopsignal = FOO", "stopsignal", "expected a signal name"),
        ("stopwaitsecs = long", "stopwaitsecs", "expected a number of seconds"),
        ("killwaitsecs = -2", "killwaitsecs", "expected a number of seconds"),
        ("restartpause = x", "restartpause", "expected a number of seconds"),
        ("stopasgroup = x", "stopasgroup", "expected a boolean"),
        ("killasgroup = x", "killasgroup", "expected a boolean"),
        ("redirect_stderr = x", "redirect_stderr", "expected a boolean"),
        ("umask = 8", "umask", "expected an octal number"),
        ("user = no_such_user_x", "user", "expected an existing user name or uid"),
        ("numprocs = 0", "numprocs", "expected an integer >= 1, got '0'"),
        ("numprocs = 10001", "numprocs", "expected at most 10,000 processes (each costs descriptors"),
        ("numprocs_start = -1", "numprocs_start", "expected an integer >= 0"),
        ("process_name = a b", "process_name", "expected a name without spaces"),
        ("process_name = a:%(program_name)s", "process_name", "expected a name without spaces"),
        (
            "stdout_logfile = /nonexistent/dir/x.log",
            "stdout_logfile",
            "The directory named as part of the path",
        ),
        ("stderr_logfile = syslog @sctp:h", "stderr_logfile", "expected syslog protocol udp or tcp"),
        ("stdout_logfile_maxbytes = 10xb", "stdout_logfile_maxbytes", "expected a byte size"),
        ("stderr_logfile_backups = -1", "stderr_logfile_backups", "expected an integer >= 0"),
        ("stdout_capture_maxbytes = lots", "stdout_capture_maxbytes", "expected a byte size"),
        ("stderr_events_enabled = x", "stderr_events_enabled", "expected a boolean"),
        ("stdout_syslog = x", "stdout_syslog", "expected a boolean"),
        ("environment = A", "environment", "expected KEY=value pairs"),
        ("syslog_facility = local9", "syslog_facility", "expected a syslog facility"),
        ("syslog_stdout_priority = loud", "syslog_stdout_priority", "expected a syslog priority"),
        ("syslog_stderr_priority = loud", "syslog_stderr_priority", "expected a syslog priority"),
        ("restart_when_binary_changed = x", "restart_when_binary_changed", "expected a boolean"),
        (
            "restart_signal_when_binary_changed = NOPE",
            "restart_signal_when_binary_changed",
            "expected a signal",
        ),
        ("restart_signal_when_file_changed = NOPE", "restart_signal_when_file_changed", "expected a signal"),
        ("envFiles = missing.env", "envfiles", "expected a readable env file"),
        ("depends_on = ghost", "depends_on", "got unknown program 'ghost'"),
        ("priority = %(process_num)s", "priority", "('process_num') which cannot be expanded"),
    ],
)
def test_program_value_errors(tmp_path: Path, line: str, key: str, words: str) -> None:
    err = fails(tmp_path, f"[supervisord]\n[program:a]\ncommand = /bin/cat\n{line}\n")
    assert (err.file, err.line, err.section, err.key) == (conf_path(tmp_path), 4, "program:a", key)
    assert words in err.message


def test_command_is_required(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:a]\npriority = 1\n")
    assert (err.line, err.section) == (2, "program:a")
    assert "program section program:a does not specify a command" in err.message


def test_empty_command_is_rejected(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:a]\ncommand =\n")
    assert "does not specify a command" in err.message


def test_command_expanding_to_nothing_is_rejected(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:a]\ncommand = %(ENV_EMPTY)s\n", environ={"EMPTY": ""})
    assert (err.line, err.key) == (3, "command")
    assert "expected a command to run, got ''" in err.message


def test_bad_program_name(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:a b]\ncommand = /bin/cat\n")
    assert (err.line, err.section) == (2, "program:a b")
    assert "expected a name without spaces" in err.message


def test_stopasgroup_implies_killasgroup(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:a]\ncommand = /bin/cat\nstopasgroup = true\n")
    assert (proc(config, "a").stopasgroup, proc(config, "a").killasgroup) == (True, True)


def test_stopasgroup_without_killasgroup_is_an_error(tmp_path: Path) -> None:
    err = fails(
        tmp_path, "[supervisord]\n[program:a]\ncommand = x\nstopasgroup = true\nkillasgroup = false\n"
    )
    assert (err.line, err.key) == (5, "killasgroup")
    assert "Cannot set stopasgroup=true and killasgroup=false" in err.message


def test_killasgroup_alone(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:a]\ncommand = x\nkillasgroup = true\n")
    assert (proc(config, "a").stopasgroup, proc(config, "a").killasgroup) == (False, True)


def test_serverurl_auto_is_none(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:a]\ncommand = x\nserverurl = auto\n")
    assert proc(config, "a").serverurl is None


def test_directory_is_kept_as_written(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:a]\ncommand = x\ndirectory = /does/not/exist/yet\n")
    assert proc(config, "a").directory == "/does/not/exist/yet"


def test_percent_literal_in_command(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:a]\ncommand = date +%%s\n")
    assert proc(config, "a").command == "date +%s"


def test_command_continuation_lines(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:a]\ncommand = /bin/sh\n  -c true\n")
    assert proc(config, "a").command == "/bin/sh\n-c true"


# ============================================================================ logs


def test_log_destinations(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [program:a]
        command = x
        stdout_logfile = a.log, syslog, syslog @tcp:logs
        stderr_logfile = off
        """,
    )
    p = proc(config, "a")
    assert p.stdout.destinations == (
        LogDestination(LogKind.FILE, path=str(tmp_path / "a.log")),
        LogDestination(LogKind.SYSLOG),
        LogDestination(LogKind.SYSLOG, host="logs", port=6514, protocol="tcp"),
    )
    assert p.stdout.primary_file == LogDestination(LogKind.FILE, path=str(tmp_path / "a.log"))
    assert p.stderr.destinations == (LogDestination(LogKind.NULL),)


def test_redirect_stderr_ignores_stderr_logfile_with_warning(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[supervisord]\n[program:a]\ncommand = x\nredirect_stderr = true\nstderr_logfile = err.log\n",
    )
    p = proc(config, "a")
    assert p.redirect_stderr is True
    assert p.stderr.destinations == (LogDestination(LogKind.NULL),)
    assert config.warnings == (
        f"{conf_path(tmp_path)}:5: [program:a] stderr_logfile: ignored because redirect_stderr=true",
    )


def test_auto_log_without_rotation_warns(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:a]\ncommand = x\nstdout_logfile_maxbytes = 0\n")
    assert len(config.warnings) == 1
    assert "stdout_logfile_maxbytes: AUTO stdout_logfile with maxbytes=0" in config.warnings[0]
    assert config.warnings[0].startswith(f"{conf_path(tmp_path)}:4: [program:a] ")


def test_log_paths_expand_process_num_and_program_environment(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        environment = ROOT="%(here)s"
        [program:a]
        command = x
        process_name = a%(process_num)d
        numprocs = 2
        environment = NAME="svc"
        stdout_logfile = %(ENV_ROOT)s/%(ENV_NAME)s-%(process_num)d-of-%(numprocs)d.log
        """,
    )
    assert proc(config, "a1").stdout.destinations[0].path == str(tmp_path / "svc-1-of-2.log")


# ============================================================================ numprocs and naming


def test_numprocs_names_and_numbers(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [program:w]
        command = /bin/worker %(process_num)d/%(numprocs)d
        process_name = %(program_name)s_%(process_num)02d
        numprocs = 3
        numprocs_start = 8
        """,
    )
    group = config.groups[0]
    assert [p.name for p in group.processes] == ["w_08", "w_09", "w_10"]
    assert [p.process_num for p in group.processes] == [8, 9, 10]
    assert [p.command for p in group.processes] == ["/bin/worker 8/3", "/bin/worker 9/3", "/bin/worker 10/3"]
    assert {p.group for p in group.processes} == {"w"}
    assert group.processes[0].namespec == "w:w_08"


def test_numprocs_without_process_num_is_an_error(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:w]\ncommand = x\nnumprocs = 2\n")
    assert "%(process_num) must be present within process_name when numprocs > 1" in err.message
    assert (err.section, err.key) == ("program:w", "process_name")
    err = fails(
        tmp_path, "[supervisord]\n[program:w]\ncommand = x\nnumprocs = 2\nprocess_name = w%(program_name)s\n"
    )
    assert err.line == 5


def test_numprocs_one_process_name_without_process_num(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:w]\ncommand = x\nprocess_name = other\n")
    assert proc(config, "other").namespec == "w:other"


# ============================================================================ groups


def test_group_adopts_programs(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [program:b]
        command = /bin/b %(group_name)s
        priority = 20
        [program:a]
        command = /bin/a
        process_name = %(group_name)s-%(program_name)s
        priority = 10
        [program:solo]
        command = /bin/solo %(group_name)s
        [group:g]
        programs = b, a, b
        priority = 5
        """,
    )
    assert [g.name for g in config.groups] == ["g", "solo"]
    g = config.group("g")
    assert g is not None
    assert (g.kind, g.priority, g.pool) == (GroupKind.GROUP, 5, None)
    assert [p.name for p in g.processes] == ["g-a", "b"]  # sorted by process priority
    assert proc(config, "b").command == "/bin/b g"
    assert proc(config, "b").namespec == "g:b"
    assert proc(config, "solo").command == "/bin/solo solo"
    assert config.group("a") is None and config.group("b") is None


def test_group_default_priority(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[program:a]\ncommand = x\n[group:g]\nprograms = a\n")
    g = config.group("g")
    assert g is not None and g.priority == 999


def test_group_unknown_member(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:b]\ncommand = x\n[group:g]\n\nprograms = b,a\n")
    assert (err.file, err.line) == (conf_path(tmp_path), 6)
    assert "[group:g] names unknown program a" in str(err)


def test_group_cannot_adopt_an_event_listener(tmp_path: Path) -> None:
    err = fails(
        tmp_path, "[supervisord]\n[eventlistener:e]\ncommand = x\nevents = TICK\n[group:g]\nprograms = e\n"
    )
    assert "[group:g] names unknown program e" in err.message


def test_group_invalid_priority(tmp_path: Path) -> None:
    err = fails(
        tmp_path, "[supervisord]\n[program:a]\ncommand = x\n[group:g]\nprograms = a\npriority = top\n"
    )
    assert (err.line, err.section, err.key) == (6, "group:g", "priority")


def test_group_with_clashing_process_names(tmp_path: Path) -> None:
    err = fails(
        tmp_path,
        """
        [supervisord]
        [program:a]
        command = x
        process_name = same
        [program:b]
        command = y
        process_name = same
        [group:g]
        programs = a,b
        """,
    )
    assert "duplicate process name 'same' in group 'g'" in err.message


def test_group_name_clashes_with_a_program(tmp_path: Path) -> None:
    err = fails(
        tmp_path,
        "[supervisord]\n[program:a]\ncommand = x\n[program:g]\ncommand = y\n[group:g]\nprograms = a\n",
    )
    assert "duplicate group name 'g'" in err.message


def test_program_and_listener_with_same_name(tmp_path: Path) -> None:
    err = fails(
        tmp_path, "[supervisord]\n[program:a]\ncommand = x\n[eventlistener:a]\ncommand = y\nevents = TICK\n"
    )
    assert (err.line, err.section) == (4, "eventlistener:a")
    assert "define the same name 'a'" in err.message


def test_groups_sorted_by_priority_then_name(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [program:zeta]
        command = x
        priority = 1
        [program:beta]
        command = x
        [program:alpha]
        command = x
        [eventlistener:listen]
        command = x
        events = EVENT
        """,
    )
    assert [(g.name, g.priority) for g in config.groups] == [
        ("listen", -1),
        ("zeta", 1),
        ("alpha", 999),
        ("beta", 999),
    ]


# ============================================================================ event listeners


def test_eventlistener(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [eventlistener:mon]
        command = /bin/listener
        events = process_state, TICK_60,PROCESS_STATE
        buffer_size = 50
        numprocs = 2
        process_name = mon%(process_num)d
        """,
    )
    group = config.groups[0]
    assert (group.name, group.kind, group.priority) == ("mon", GroupKind.EVENTLISTENER, -1)
    assert group.pool is not None
    assert group.pool.events == ("PROCESS_STATE", "TICK_60")
    assert group.pool.buffer_size == 50
    assert group.pool.result_handler == "supervisor.dispatchers:default_handler"
    assert [p.name for p in group.processes] == ["mon0", "mon1"]
    assert all(p.priority == -1 for p in group.processes)


def test_eventlistener_default_buffer_size(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[eventlistener:e]\ncommand = x\nevents = TICK\n")
    assert config.groups[0].pool is not None and config.groups[0].pool.buffer_size == 10


@pytest.mark.parametrize(
    ("body", "line", "key", "words"),
    [
        ("command = x\n", 2, "events", '[eventlistener:e] section requires an "events" line'),
        ("command = x\nevents =\n", 4, "events", 'requires an "events" line'),
        (
            "command = x\nevents = TICK,NOPE\n",
            4,
            "events",
            "Unknown event type NOPE in [eventlistener:e] events",
        ),
        ("command = x\nevents = TICK\nbuffer_size = 0\n", 5, "buffer_size", "sets invalid buffer_size (0)"),
        ("command = x\nevents = TICK\nbuffer_size = big\n", 5, "buffer_size", "expected an integer"),
        (
            "command = x\nevents = TICK\nredirect_stderr = true\n",
            5,
            "redirect_stderr",
            "not allowed for event",
        ),
        ("events = TICK\n", 2, None, "does not specify a command"),
    ],
)
def test_eventlistener_errors(tmp_path: Path, body: str, line: int, key: str | None, words: str) -> None:
    err = fails(tmp_path, "[supervisord]\n[eventlistener:e]\n" + body)
    assert (err.line, err.section, err.key) == (line, "eventlistener:e", key)
    assert words in err.message


def test_eventlistener_warnings(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [eventlistener:e]
        command = x
        events = TICK
        result_handler = mypkg:handler
        stdout_capture_maxbytes = 1KB
        depends_on = e
        """,
    )
    path = conf_path(tmp_path)
    assert config.warnings == (
        f"{path}:7: [eventlistener:e] depends_on: unknown key, ignored",
        f"{path}:6: [eventlistener:e] stdout_capture_maxbytes: "
        "ignored for event listeners (stdout is the protocol)",
        f"{path}:5: [eventlistener:e] result_handler: "
        "only supervisor.dispatchers:default_handler is supported; 'mypkg:handler' ignored",
    )
    p = config.groups[0].processes[0]
    assert p.stdout.capture_maxbytes == 0 and p.depends_on == ()


# ============================================================================ includes


def test_include_merges_files_with_their_own_here(tmp_path: Path) -> None:
    write(tmp_path / "conf.d" / "b.conf", "[program:b]\ncommand = %(here)s/run-b\n")
    write(tmp_path / "conf.d" / "a.conf", "[program:a]\ncommand = %(here)s/run-a\n")
    write(tmp_path / "conf.d" / "a.conf.bak", "[program:bak]\ncommand = x\n")
    write(tmp_path / "other" / "c.ini", "[program:c]\ncommand = %(here)s/run-c\n")
    config = load(
        tmp_path,
        """
        [supervisord]
        [include]
        files = conf.d/*.conf %(here)s/other/*.ini
        """,
    )
    conf_d = tmp_path / "conf.d"
    assert config.included_files == (
        str(conf_d / "a.conf"),
        str(conf_d / "b.conf"),
        str(tmp_path / "other" / "c.ini"),
    )
    assert proc(config, "a").command == f"{conf_d}/run-a"
    assert proc(config, "c").command == f"{tmp_path}/other/run-c"
    assert proc(config, "b").source_file == str(conf_d / "b.conf")
    assert proc(config, "b").source_line == 1
    assert config.group("bak") is None


def test_include_later_definitions_win(tmp_path: Path) -> None:
    write(tmp_path / "extra.conf", "[program:a]\npriority = 7\n[supervisord]\nloglevel = debug\n")
    config = load(
        tmp_path, "[supervisord]\n[program:a]\ncommand = x\npriority = 1\n[include]\nfiles = extra.conf\n"
    )
    assert proc(config, "a").priority == 7
    assert proc(config, "a").command == "x"
    assert config.supervisord.loglevel == "debug"


def test_include_relative_to_main_file_not_cwd(tmp_path: Path) -> None:
    write(tmp_path / "etc" / "inc" / "p.conf", "[program:p]\ncommand = x\n")
    main = write(tmp_path / "etc" / "sv.conf", "[supervisord]\n[include]\nfiles = inc/*.conf\n")
    config = load_config(str(main), environ=ENV, cwd=str(tmp_path))
    assert config.included_files == (str(tmp_path / "etc" / "inc" / "p.conf"),)


def test_include_with_env_and_host_node_name(tmp_path: Path) -> None:
    node = platform.node()
    write(tmp_path / f"{node}.conf", "[program:n]\ncommand = x\n")
    write(tmp_path / "env.conf", "[program:e]\ncommand = x\n")
    config = load(
        tmp_path,
        "[supervisord]\n[include]\nfiles = %(host_node_name)s.conf %(ENV_WHICH)s.conf\n",
        environ={"WHICH": "env"},
    )
    assert {g.name for g in config.groups} == {"n", "e"}


def test_include_no_match_is_a_warning(tmp_path: Path) -> None:
    config = load(tmp_path, "[supervisord]\n[include]\nfiles = none/*.conf\n")
    assert config.warnings == (
        f'{conf_path(tmp_path)}:3: [include] files: No file matches via include "none/*.conf"',
    )
    assert config.included_files == ()


def test_include_without_files_is_an_error(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[include]\n")
    assert (err.line, err.section, err.key) == (2, "include", "files")
    assert "must define files" in err.message


def test_nested_include_is_ignored_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path / "deeper.conf", "[program:deep]\ncommand = x\n")
    write(tmp_path / "a.conf", "[program:a]\ncommand = x\n[include]\nfiles = deeper.conf\n")
    config = load(tmp_path, "[supervisord]\n[include]\nfiles = a.conf\n")
    assert config.group("deep") is None
    assert config.warnings == (
        f"{tmp_path / 'a.conf'}:3: [include] nested includes are not processed, ignored",
    )


def test_errors_in_included_files_point_there(tmp_path: Path) -> None:
    inc = write(tmp_path / "inc.conf", "[program:a]\ncommand = x\nstartsecs = soon\n")
    err = fails(tmp_path, "[supervisord]\n[include]\nfiles = inc.conf\n")
    assert (err.file, err.line, err.section, err.key) == (str(inc), 3, "program:a", "startsecs")
    assert str(err) == f"{inc}:3: [program:a] startsecs: expected a number of seconds >= 0, got 'soon'"


def test_syntax_errors_in_included_files_point_there(tmp_path: Path) -> None:
    inc = write(tmp_path / "inc.conf", "[program:a]\nbroken line\n")
    err = fails(tmp_path, "[supervisord]\n[include]\nfiles = inc.conf\n")
    assert (err.file, err.line) == (str(inc), 2)


# ============================================================================ [program-default]


def test_program_default_applies_to_programs_lacking_the_key(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [program-default]
        startsecs = 0
        stopsignal = INT
        stdout_logfile = %(program_name)s.log
        [program:a]
        command = x
        stopsignal = KILL
        [program:b]
        command = y
        [eventlistener:e]
        command = z
        events = TICK
        """,
    )
    a, b, e = proc(config, "a"), proc(config, "b"), proc(config, "e")
    assert (a.startsecs, a.stopsignals) == (0, (KILL,))
    assert (b.startsecs, b.stopsignals) == (0, (INT,))
    assert a.stdout.destinations == (LogDestination(LogKind.FILE, path=str(tmp_path / "a.log")),)
    assert b.stdout.destinations == (LogDestination(LogKind.FILE, path=str(tmp_path / "b.log")),)
    assert (e.startsecs, e.stopsignals, e.stdout.destinations) == (
        1,
        (TERM,),
        (LogDestination(LogKind.AUTO),),
    )


def test_program_default_can_supply_the_command(tmp_path: Path) -> None:
    config = load(
        tmp_path, "[supervisord]\n[program-default]\ncommand = /bin/%(program_name)s\n[program:ls]\n"
    )
    assert proc(config, "ls").command == "/bin/ls"


def test_program_default_errors_point_at_program_default(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program-default]\nstartretries = many\n[program:a]\ncommand = x\n")
    assert (err.line, err.section, err.key) == (3, "program-default", "startretries")


def test_program_default_unknown_key_warns_once(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[supervisord]\n[program-default]\nbogus = 1\n[program:a]\ncommand = x\n[program:b]\ncommand = x\n",
    )
    assert config.warnings == (f"{conf_path(tmp_path)}:3: [program-default] bogus: unknown key, ignored",)


def test_program_default_here_is_its_own_file(tmp_path: Path) -> None:
    write(tmp_path / "d" / "defaults.conf", "[program-default]\ndirectory = %(here)s\n")
    config = load(tmp_path, "[supervisord]\n[include]\nfiles = d/*.conf\n[program:a]\ncommand = x\n")
    assert proc(config, "a").directory == str(tmp_path / "d")


# ============================================================================ environment and envFiles


def test_environment_precedence(tmp_path: Path) -> None:
    write(tmp_path / "one.env", "S=from-file\nF=file\nP=from-file\nORDER=1\n")
    write(tmp_path / "two.env", "export ORDER=2\nLAST=no-newline")
    config = load(
        tmp_path,
        """
        [supervisord]
        environment = S=sup,P=sup,ONLY_SUP=1
        [program:a]
        command = /bin/a %(ENV_F)s %(ENV_P)s %(ENV_ONLY_SUP)s
        envFiles = one.env, two.env
        environment = P="program"
        """,
    )
    env = dict(proc(config, "a").environment)
    assert env == {
        "S": "from-file",
        "P": "program",
        "ONLY_SUP": "1",
        "F": "file",
        "ORDER": "2",
        "LAST": "no-newline",
    }
    assert proc(config, "a").command == "/bin/a file program 1"


def test_envfiles_relative_to_the_file_that_names_them(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "app.env", "X=1\n")
    write(tmp_path / "conf" / "app.conf", "[program:a]\ncommand = x\nenvfiles = app.env\n")
    main = write(tmp_path / "main.conf", "[supervisord]\n[include]\nfiles = conf/app.conf\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    config = load_config(str(main), environ=ENV, cwd=str(work))
    assert dict(proc(config, "a").environment) == {"X": "1"}


def test_envfiles_missing_file_is_an_error(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:a]\ncommand = x\nenvFiles = ok.env, gone.env\n")
    assert (err.line, err.key) == (4, "envfiles")


def test_envfiles_bad_line_is_an_error_naming_the_env_file(tmp_path: Path) -> None:
    env_file = write(tmp_path / "bad.env", "A=1\nnonsense\n")
    err = fails(tmp_path, "[supervisord]\n[program:a]\ncommand = x\nenvFiles = bad.env\n")
    assert (err.line, err.key) == (4, "envfiles")
    assert f"{env_file}: line 2: expected KEY=VALUE, got 'nonsense'" in err.message


def test_environment_expansions(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        environment = BASE="/opt"
        [program:a]
        command = x
        process_name = a%(process_num)s
        numprocs = 2
        environment = DIR="%(ENV_BASE)s/%(program_name)s/%(process_num)s",HOME2="%(ENV_HOME)s"
        """,
    )
    assert dict(proc(config, "a1").environment) == {"BASE": "/opt", "DIR": "/opt/a/1", "HOME2": "/home/u"}


def test_environment_cannot_use_its_own_variables(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:a]\ncommand = x\nenvironment = A=1,B=%(ENV_A)s\n")
    assert err.key == "environment" and "('ENV_A')" in err.message


def test_program_level_keys_do_not_see_supervisord_environment(tmp_path: Path) -> None:
    err = fails(
        tmp_path, "[supervisord]\nenvironment = P=5\n[program:a]\ncommand = x\npriority = %(ENV_P)s\n"
    )
    assert err.key == "priority" and "('ENV_P')" in err.message


def test_unknown_name_in_command_lists_available_names(tmp_path: Path) -> None:
    err = fails(tmp_path, "[supervisord]\n[program:a]\ncommand = /bin/%(prog)s\n", environ={})
    assert (err.line, err.key) == (3, "command")
    assert err.message.endswith(
        "Available names: group_name, here, host_node_name, numprocs, process_num, program_name"
    )


# ============================================================================ depends_on


def test_depends_on(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [supervisord]
        [program:db]
        command = x
        [program:cache]
        command = x
        [program:web]
        command = x
        depends_on = db, cache
        """,
    )
    assert proc(config, "web").depends_on == ("db", "cache")
    assert proc(config, "db").depends_on == ()


@pytest.mark.parametrize(
    ("deps", "cycle"),
    [
        ({"a": "a"}, "a -> a"),
        ({"a": "b", "b": "a"}, "a -> b -> a"),
        ({"a": "b", "b": "c", "c": "a"}, "a -> b -> c -> a"),
        ({"x": "a", "a": "b", "b": "a"}, "a -> b -> a"),
    ],
)
def test_depends_on_cycles(tmp_path: Path, deps: dict[str, str], cycle: str) -> None:
    sections = "".join(
        f"[program:{name}]\ncommand = x\n" + (f"depends_on = {deps[name]}\n" if name in deps else "")
        for name in ("x", "a", "b", "c")
    )
    err = fails(tmp_path, "[supervisord]\n" + sections)
    assert err.key == "depends_on"
    assert f"dependency cycle: {cycle}" in err.message


def test_depends_on_an_event_listener_is_unknown(tmp_path: Path) -> None:
    err = fails(
        tmp_path,
        "[supervisord]\n[eventlistener:e]\ncommand = x\nevents = TICK\n"
        "[program:a]\ncommand = x\ndepends_on = e\n",
    )
    assert (err.line, err.key) == (7, "depends_on") and "unknown program 'e'" in err.message


# ============================================================================ find_config


@pytest.fixture
def no_system_configs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, str]:
    system = (
        str(tmp_path / "sys" / "supervisord.conf"),
        str(tmp_path / "sys" / "supervisor" / "supervisord.conf"),
    )
    monkeypatch.setattr(loader, "SYSTEM_CONFIG_PATHS", system)
    return system


def test_candidate_paths_order(tmp_path: Path, no_system_configs: tuple[str, str]) -> None:
    exe = tmp_path / "inst" / "bin" / "supervisord"
    assert candidate_paths(str(tmp_path / "cwd"), str(exe)) == [
        str(tmp_path / "cwd" / "supervisord.conf"),
        str(tmp_path / "cwd" / "etc" / "supervisord.conf"),
        *no_system_configs,
        str(tmp_path / "inst" / "etc" / "supervisord.conf"),
        str(tmp_path / "inst" / "supervisord.conf"),
    ]


def test_find_config_first_existing_wins(tmp_path: Path, no_system_configs: tuple[str, str]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    exe = str(tmp_path / "inst" / "bin" / "supervisord")
    assert find_config(str(cwd), exe) is None
    write(tmp_path / "inst" / "supervisord.conf", "")
    assert find_config(str(cwd), exe) == str(tmp_path / "inst" / "supervisord.conf")
    write(tmp_path / "inst" / "etc" / "supervisord.conf", "")
    assert find_config(str(cwd), exe) == str(tmp_path / "inst" / "etc" / "supervisord.conf")
    write(Path(no_system_configs[1]), "")
    assert find_config(str(cwd), exe) == no_system_configs[1]
    write(Path(no_system_configs[0]), "")
    assert find_config(str(cwd), exe) == no_system_configs[0]
    write(cwd / "etc" / "supervisord.conf", "")
    assert find_config(str(cwd), exe) == str(cwd / "etc" / "supervisord.conf")
    write(cwd / "supervisord.conf", "")
    assert find_config(str(cwd), exe) == str(cwd / "supervisord.conf")


def test_find_config_bare_executable_uses_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_configs: tuple[str, str]
) -> None:
    bindir = tmp_path / "inst" / "bin"
    bindir.mkdir(parents=True)
    exe = bindir / "my-supervisord"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    write(tmp_path / "inst" / "etc" / "supervisord.conf", "")
    assert find_config(str(tmp_path / "cwd"), "my-supervisord") == str(
        tmp_path / "inst" / "etc" / "supervisord.conf"
    )
    assert len(candidate_paths(str(tmp_path), "not-on-path-xyz")) == 4
    assert len(candidate_paths(str(tmp_path), "")) == 4
