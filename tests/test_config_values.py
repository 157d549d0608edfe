"""Value parsers, ``%(name)s`` expansion and the event type table."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from supervisord import eventtypes
from supervisord.config import values as v
from supervisord.config.errors import ConfigError
from supervisord.config.expand import describe_names, environ_names, expand, host_node_name
from supervisord.config.model import AutoRestart, LogDestination, LogKind

# ---------------------------------------------------------------------------- booleans and numbers


@pytest.mark.parametrize("text", ["true", "TRUE", "Yes", "on", "1", " true "])
def test_bool_true(text: str) -> None:
    assert v.parse_bool(text) is True


@pytest.mark.parametrize("text", ["false", "False", "NO", "off", "0"])
def test_bool_false(text: str) -> None:
    assert v.parse_bool(text) is False


@pytest.mark.parametrize("text", ["", "maybe", "t", "2"])
def test_bool_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=f"expected a boolean .*got '{text}'"):
        v.parse_bool(text)


def test_int_plain_and_ranges() -> None:
    assert v.parse_int(" 42 ") == 42
    assert v.parse_int("-3") == -3
    assert v.parse_int("0", minimum=0) == 0
    assert v.parse_int("5", minimum=1, maximum=5) == 5


@pytest.mark.parametrize(
    ("text", "minimum", "maximum", "words"),
    [
        ("x", None, None, "expected an integer, got 'x'"),
        ("1.5", None, None, "expected an integer, got '1.5'"),
        ("-1", 0, None, "expected an integer >= 0, got '-1'"),
        ("9", None, 8, "expected an integer <= 8, got '9'"),
        ("0", 1, 3, "expected an integer between 1 and 3, got '0'"),
    ],
)
def test_int_errors(text: str, minimum: int | None, maximum: int | None, words: str) -> None:
    with pytest.raises(ValueError) as info:
        v.parse_int(text, minimum=minimum, maximum=maximum)
    assert str(info.value) == words


@pytest.mark.parametrize(("text", "expected"), [("0", 0.0), ("1", 1.0), ("0.5", 0.5), (" 10 ", 10.0)])
def test_seconds(text: str, expected: float) -> None:
    assert v.parse_seconds(text) == expected


@pytest.mark.parametrize("text", ["-1", "soon", "", "nan", "inf"])
def test_seconds_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="expected a number of seconds >= 0"):
        v.parse_seconds(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1024", 1024),
        ("1KB", 1024),
        ("1kb", 1024),
        ("10Kb", 10 * 1024),
        ("50MB", 50 * 1024**2),
        ("2gb", 2 * 1024**3),
        (" 3 MB ", 3 * 1024**2),
    ],
)
def test_byte_size(text: str, expected: int) -> None:
    assert v.parse_byte_size(text) == expected


@pytest.mark.parametrize("text", ["10xb", "1M", "MB", "", "-1KB", "1.5MB"])
def test_byte_size_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="expected a byte size"):
        v.parse_byte_size(text)


@pytest.mark.parametrize(("text", "expected"), [("022", 0o22), ("0700", 0o700), ("0o755", 0o755), ("7", 7)])
def test_octal(text: str, expected: int) -> None:
    assert v.parse_octal(text) == expected


@pytest.mark.parametrize("text", ["089", "abc", "", "77777"])
def test_octal_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="expected an octal"):
        v.parse_octal(text)


# ---------------------------------------------------------------------------- signals and exit codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TERM", signal.SIGTERM),
        ("SIGTERM", signal.SIGTERM),
        ("term", signal.SIGTERM),
        ("sigkill", signal.SIGKILL),
        ("HUP", signal.SIGHUP),
        ("usr2", signal.SIGUSR2),
        ("9", 9),
        (" 15 ", 15),
    ],
)
def test_signal(text: str, expected: int) -> None:
    assert v.parse_signal(text) == int(expected)


@pytest.mark.parametrize("text", ["FOO", "SIG", "0", "999", "", "-9"])
def test_signal_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="expected a signal"):
        v.parse_signal(text)


def test_signal_list_space_and_comma_separated() -> None:
    term, sig_int, kill = int(signal.SIGTERM), int(signal.SIGINT), int(signal.SIGKILL)
    assert v.parse_signal_list("TERM INT KILL") == (term, sig_int, kill)
    assert v.parse_signal_list("TERM,INT, KILL") == (term, sig_int, kill)
    assert v.parse_signal_list("QUIT") == (int(signal.SIGQUIT),)


@pytest.mark.parametrize("text", ["", " , ", "TERM BOGUS"])
def test_signal_list_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        v.parse_signal_list(text)


def test_exitcodes() -> None:
    assert v.parse_exitcodes("0") == frozenset({0})
    assert v.parse_exitcodes("0,2") == frozenset({0, 2})
    assert v.parse_exitcodes(" 0, 2 ,255") == frozenset({0, 2, 255})


@pytest.mark.parametrize("text", ["0,256", "a", "", "0,,1", "-1", "1.0"])
def test_exitcodes_invalid(text: str) -> None:
    with pytest.raises(ValueError) as info:
        v.parse_exitcodes(text)
    assert str(info.value) == f"expected a comma-separated list of exit codes 0-255, got '{text}'"


# ---------------------------------------------------------------------------- names, lists, autorestart


def test_name_ok() -> None:
    assert v.parse_name(" web_01 ") == "web_01"
    assert v.parse_name("a.b-c") == "a.b-c"


@pytest.mark.parametrize(("text", "bad"), [("a b", "' '"), ("a:b", "':'"), ("a/b", "'/'"), ("a\tb", "'\\t'")])
def test_name_invalid(text: str, bad: str) -> None:
    with pytest.raises(ValueError) as info:
        v.parse_name(text)
    assert "expected a name without spaces, ':' or '/'" in str(info.value)
    assert f"bad character {bad}" in str(info.value)


def test_name_empty() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        v.parse_name("  ")


def test_list() -> None:
    assert v.parse_list("a, b,,c ,") == ("a", "b", "c")
    assert v.parse_list("") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", AutoRestart.ALWAYS),
        ("YES", AutoRestart.ALWAYS),
        ("false", AutoRestart.NEVER),
        ("off", AutoRestart.NEVER),
        ("unexpected", AutoRestart.UNEXPECTED),
        ("Unexpected", AutoRestart.UNEXPECTED),
    ],
)
def test_autorestart(text: str, expected: AutoRestart) -> None:
    assert v.parse_autorestart(text) is expected


def test_autorestart_invalid() -> None:
    with pytest.raises(ValueError, match="expected true, false or unexpected, got 'sometimes'"):
        v.parse_autorestart("sometimes")


# ---------------------------------------------------------------------------- environment and dotenv


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ('A="1"', (("A", "1"),)),
        ('KEY="val",K2=v2', (("KEY", "val"), ("K2", "v2"))),
        ('A="x,y",B=2', (("A", "x,y"), ("B", "2"))),
        ("A='single, quoted'", (("A", "single, quoted"),)),
        ('A = "spaced" , B = bare value ', (("A", "spaced"), ("B", "bare value"))),
        ('A="eq=sign"', (("A", "eq=sign"),)),
        ("A=", (("A", ""),)),
        ('A="",B=1', (("A", ""), ("B", "1"))),
        ('A=pre"quoted part"', (("A", "prequoted part"),)),
        ("A=1,\nB=2,", (("A", "1"), ("B", "2"))),
        ("PATH=/usr/bin:/bin", (("PATH", "/usr/bin:/bin"),)),
    ],
)
def test_environment(text: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert v.parse_environment(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("A", "missing '=' after A"),
        ('A="open', 'unterminated " quote in value of A'),
        ("=1", "bad key"),
        ("A B=1", "missing '=' after A"),
    ],
)
def test_environment_invalid(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        v.parse_environment(text)
    assert "expected KEY=value pairs separated by commas" in str(info.value)
    assert reason in str(info.value)


def test_dotenv_forms() -> None:
    text = (
        "# comment\n"
        "\n"
        "A=1\n"
        "export B=two\n"
        'C="quoted # not a comment"\n'
        "D='single $x \\n'\n"
        'E="line\\nbreak \\"q\\""\n'
        "F=bare value # trailing comment\n"
        "  G = spaced  \n"
        "H=\n"
        "LAST=kept"
    )
    assert v.parse_dotenv(text) == (
        ("A", "1"),
        ("B", "two"),
        ("C", "quoted # not a comment"),
        ("D", "single $x \\n"),
        ("E", 'line\nbreak "q"'),
        ("F", "bare value"),
        ("G", "spaced"),
        ("H", ""),
        ("LAST", "kept"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nnot a pair\n", "line 2: expected KEY=VALUE, got 'not a pair'"),
        ("1A=x", "line 1: expected KEY=VALUE, got '1A=x'"),
        ("A='open", "line 1: expected a closing ' quote"),
        ('A="open', 'line 1: expected a closing " quote'),
    ],
)
def test_dotenv_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        v.parse_dotenv(text)
    assert message in str(info.value)


def test_read_dotenv(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_text("X=1\nY=2")
    assert v.read_dotenv(str(path)) == (("X", "1"), ("Y", "2"))
    missing = str(tmp_path / "missing.env")
    with pytest.raises(ValueError, match=r"expected a readable env file, got '.*missing.env'"):
        v.read_dotenv(missing)
    path.write_text("oops\n")
    with pytest.raises(ValueError, match=r"a\.env: line 1"):
        v.read_dotenv(str(path))


# ---------------------------------------------------------------------------- log destinations


def test_log_destination_keywords() -> None:
    assert v.parse_log_destination("AUTO", "/c") == LogDestination(LogKind.AUTO)
    assert v.parse_log_destination("auto", "/c") == LogDestination(LogKind.AUTO)
    assert v.parse_log_destination("NONE", "/c") == LogDestination(LogKind.NULL)
    assert v.parse_log_destination("off", "/c") == LogDestination(LogKind.NULL)
    assert v.parse_log_destination("/dev/null", "/c") == LogDestination(LogKind.NULL)
    assert v.parse_log_destination("/dev/stdout", "/c") == LogDestination(LogKind.STDOUT)
    assert v.parse_log_destination("/dev/stderr", "/c") == LogDestination(LogKind.STDERR)
    assert v.parse_log_destination("syslog", "/c") == LogDestination(LogKind.SYSLOG)


def test_log_destination_paths_are_absolute_against_cwd() -> None:
    assert v.parse_log_destination("a.log", "/work") == LogDestination(LogKind.FILE, path="/work/a.log")
    assert v.parse_log_destination("logs/../b.log", "/w") == LogDestination(LogKind.FILE, path="/w/b.log")
    assert v.parse_log_destination("/abs/c.log", "/w") == LogDestination(LogKind.FILE, path="/abs/c.log")
    home = os.path.expanduser("~")
    assert v.parse_log_destination("~/d.log", "/w").path == os.path.join(home, "d.log")


@pytest.mark.parametrize(
    ("text", "host", "port", "proto"),
    [
        ("syslog @logs", "logs", 514, "udp"),
        ("syslog @udp:logs", "logs", 514, "udp"),
        ("syslog @tcp:logs", "logs", 6514, "tcp"),
        ("syslog @tcp:10.0.0.1:1514", "10.0.0.1", 1514, "tcp"),
        ("syslog@logs:99", "logs", 99, "udp"),
        ("syslog @[::1]:515", "::1", 515, "udp"),
        ("SYSLOG @TCP:h", "h", 6514, "tcp"),
    ],
)
def test_log_destination_remote_syslog(text: str, host: str, port: int, proto: str) -> None:
    assert v.parse_log_destination(text, "/c") == LogDestination(
        LogKind.SYSLOG, host=host, port=port, protocol=proto
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("syslog @sctp:h", "expected syslog protocol udp or tcp"),
        ("syslog @h:0", "expected a syslog port"),
        ("syslog @", "expected 'syslog @[udp|tcp:]host[:port]'"),
        ("", "expected a log file path"),
    ],
)
def test_log_destination_invalid(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("|", r"\|")):
        v.parse_log_destination(text, "/c")


def test_log_destinations_list() -> None:
    assert v.parse_log_destinations("test.log, /dev/stdout", "/c") == (
        LogDestination(LogKind.FILE, path="/c/test.log"),
        LogDestination(LogKind.STDOUT),
    )
    with pytest.raises(ValueError, match="expected a log file path"):
        v.parse_log_destinations(" , ", "/c")


# ---------------------------------------------------------------------------- syslog, loglevel, port, user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local0", "local0"),
        ("LOCAL7", "local7"),
        ("User", "user"),
        ("KERNEL", "kern"),
        ("authpriv", "authpriv"),
    ],
)
def test_syslog_facility(text: str, expected: str) -> None:
    assert v.parse_syslog_facility(text) == expected


@pytest.mark.parametrize("text", ["local8", "nope", ""])
def test_syslog_facility_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="expected a syslog facility"):
        v.parse_syslog_facility(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("INFO", "info"), ("err", "err"), ("WARN", "warning"), ("warning", "warning"), ("Emerg", "emerg")],
)
def test_syslog_priority(text: str, expected: str) -> None:
    assert v.parse_syslog_priority(text) == expected


def test_syslog_priority_invalid() -> None:
    with pytest.raises(ValueError, match=r"expected a syslog priority .*got 'loud'"):
        v.parse_syslog_priority("loud")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("info", "info"),
        ("CRITICAL", "critical"),
        ("warning", "warn"),
        ("fatal", "critical"),
        ("panic", "critical"),
        ("blather", "blather"),
        ("Trace", "trace"),
    ],
)
def test_loglevel(text: str, expected: str) -> None:
    assert v.parse_loglevel(text) == expected


def test_loglevel_invalid() -> None:
    with pytest.raises(ValueError, match=r"expected a log level .*got 'chatty'"):
        v.parse_loglevel("chatty")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9001", ("127.0.0.1", 9001)),
        ("*:9001", ("", 9001)),
        (":9001", ("", 9001)),
        ("9001", ("", 9001)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:9001", ("::1", 9001)),
    ],
)
def test_inet_port(text: str, expected: tuple[str, int]) -> None:
    assert v.parse_inet_port(text) == expected


@pytest.mark.parametrize("text", ["host:", "host:http", "70000", ""])
def test_inet_port_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="expected 'host:port'"):
        v.parse_inet_port(text)


def test_user_spec() -> None:
    assert v.parse_user_spec("root") == "root"
    assert v.parse_user_spec("0") == "0"
    assert v.parse_user_spec("root:0") == "root:0"
    with pytest.raises(ValueError, match="expected an existing user name or uid, got 'no_such_user_x'"):
        v.parse_user_spec("no_such_user_x")
    with pytest.raises(ValueError, match="expected an existing group name or gid, got 'no_such_group_x'"):
        v.parse_user_spec("root:no_such_group_x")
    with pytest.raises(ValueError, match="expected 'user' or 'user:group'"):
        v.parse_user_spec(":root")


# ---------------------------------------------------------------------------- expansion


def test_expand_names_formats_and_percent() -> None:
    names = {"program_name": "web", "process_num": 3, "here": "/etc"}
    assert expand("%(program_name)s_%(process_num)02d", names) == "web_03"
    assert expand("%(process_num)d %(process_num)s", names) == "3 3"
    assert expand("100%% of %(here)s", names) == "100% of /etc"
    assert expand("plain", {}) == "plain"
    assert expand("%(process_num)-3d|", names) == "3  |"


def test_expand_unknown_name_lists_available_names() -> None:
    with pytest.raises(ConfigError) as info:
        expand("%(nope)s and %(nada)s", {"here": "/x", "ENV_A": "1"}, file="f", line=3, section="s", key="k")
    err = info.value
    assert (err.file, err.line, err.section, err.key) == ("f", 3, "s", "k")
    assert "contains names ('nope', 'nada') which cannot be expanded" in err.message
    assert err.message.endswith("Available names: here, ENV_A")


def test_expand_summarises_many_env_names() -> None:
    names: dict[str, str | int] = {f"ENV_V{i}": "x" for i in range(30)}
    names["here"] = "/h"
    assert describe_names(names) == "here, ENV_* (30 environment variables)"
    assert describe_names({}) == "(none)"


@pytest.mark.parametrize("text", ["50%", "%s", "%(name", "%d", "100% sure"])
def test_expand_bare_percent_is_an_error(text: str) -> None:
    with pytest.raises(ConfigError, match="expected '%\\(name\\)s' or '%%'"):
        expand(text, {"name": "x"})


def test_expand_wrong_conversion_is_an_error() -> None:
    with pytest.raises(ConfigError, match="cannot format %\\(program_name\\)d"):
        expand("%(program_name)d", {"program_name": "web"})


def test_environ_names_later_sources_win() -> None:
    assert environ_names({"A": "1", "B": "2"}, [("B", "3")]) == {"ENV_A": "1", "ENV_B": "3"}


def test_host_node_name_is_platform_node() -> None:
    import platform

    assert host_node_name() == platform.node()


# ---------------------------------------------------------------------------- event types


def test_event_types_known_and_case_insensitive() -> None:
    for name in (
        "EVENT",
        "PROCESS_STATE",
        "PROCESS_STATE_STOPPED",
        "PROCESS_STATE_STARTING",
        "PROCESS_STATE_RUNNING",
        "PROCESS_STATE_BACKOFF",
        "PROCESS_STATE_STOPPING",
        "PROCESS_STATE_EXITED",
        "PROCESS_STATE_FATAL",
        "PROCESS_STATE_UNKNOWN",
        "PROCESS_LOG_STDOUT",
        "PROCESS_COMMUNICATION_STDERR",
        "REMOTE_COMMUNICATION",
        "SUPERVISOR_STATE_CHANGE_RUNNING",
        "TICK_3600",
        "PROCESS_GROUP_REMOVED",
    ):
        assert eventtypes.is_known(name)
    assert eventtypes.is_known("tick_5")
    assert not eventtypes.is_known("NOPE")
    assert not eventtypes.is_known("TICK_10")
    # Supervisor's 27, our WATCH, WATCH_PROCESS, WATCH_CONFIG and HEALTH, HEALTH_PASSED, HEALTH_FAILED
    assert len(eventtypes.ALL_EVENT_TYPES) == 33


def test_event_type_matching_follows_hierarchy() -> None:
    assert eventtypes.matches("EVENT", "TICK_5")
    assert eventtypes.matches("TICK", "TICK_60")
    assert eventtypes.matches("tick_60", "TICK_60")
    assert not eventtypes.matches("TICK_5", "TICK_60")
    assert eventtypes.matches("PROCESS_STATE", "PROCESS_STATE_EXITED")
    assert not eventtypes.matches("PROCESS_STATE", "PROCESS_LOG_STDOUT")
    assert not eventtypes.matches("PROCESS_STATE_EXITED", "PROCESS_STATE")
    assert not eventtypes.matches("EVENT", "NOPE")
    assert eventtypes.ancestors("process_log_stderr") == ("PROCESS_LOG_STDERR", "PROCESS_LOG", "EVENT")
    assert "PROCESS_STATE" in eventtypes.ABSTRACT_EVENT_TYPES
    assert "TICK_5" not in eventtypes.ABSTRACT_EVENT_TYPES
