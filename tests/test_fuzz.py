"""Property-based fuzz of the two parsers that take input from outside: the config loader and XML-RPC.

The properties (issue 10): any INI text gives a loaded config or a ConfigError that names its file (and its
line, when it is about a line); any request body gives a parsed call, a fault or a 4xx. Never another
exception, never a hang: each example has a deadline, and pytest-timeout bounds the whole test. Example
counts keep the file under ~30 s in CI.

Left out of the strategies for now (another branch bounds them at load time): NUL bytes in
``environment`` values and numbers too large for a timer.
"""

from __future__ import annotations

import os
import re
import tempfile
import xmlrpc.client
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawhttp import exchange, post, status_of
from rpcutil import free_port, inet_section, wait_ready

from supervisord.config.errors import ConfigError
from supervisord.config.loader import load_config
from supervisord.config.process_logs import STREAM_KEYS
from supervisord.config.programs import EVENTLISTENER_KEYS, PROGRAM_KEYS
from supervisord.config.server_sections import CTL_KEYS, INET_HTTP_KEYS, SUPERVISORD_KEYS, UNIX_HTTP_KEYS
from supervisord.web.xmlrpc import parse_call
from supervisord.web.xmlrpc_codec import marshal_fault, marshal_result

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))  # FUZZ_SCALE=50 for a long hunt by hand


def examples(n: int) -> int:
    return n * SCALE


FAST = settings(
    max_examples=examples(150),
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no .hypothesis/ directory in the tree
)

# --- the config loader ---

SECTIONS = [
    "supervisord",
    "program:web",
    "program:%(ENV_HOME)s",
    "eventlistener:ev",
    "group:g",
    "inet_http_server",
    "unix_http_server",
    "supervisorctl",
    "include",
    "rpcinterface:supervisor",
    "nonsense",
    "program:",
    "program:a:b",
]
KNOWN = SUPERVISORD_KEYS | PROGRAM_KEYS | EVENTLISTENER_KEYS | INET_HTTP_KEYS | UNIX_HTTP_KEYS | CTL_KEYS
KEYS = [*sorted(KNOWN | STREAM_KEYS), "programs", "priority", "files", "supervisor.rpcinterface_factory", "x"]
WORDS = [
    "",
    "true",
    "false",
    "0",
    "1",
    "-1",
    "10",
    "1.5",
    "-0.5",
    "nan",
    "inf",
    "1e3",
    "0777",
    "0o22",
    "999999999",
    "10MB",
    "5GB",
    "KB",
    "TERM",
    "SIGKILL",
    "HUP,INT",
    "unexpected",
    "root",
    "nobody:nogroup",
    "127.0.0.1:0",
    ":",
    "*:99999",
    "%(here)s",
    "%(here)s/sub/x.sock",
    "%(ENV_HOME)s",
    "%(ENV_NOPE)s",
    "%(program_name)s_%(process_num)02d",
    "%(",
    "%%",
    "%(process_num)d",
    "%(numprocs)s",
    "/bin/true",
    "sh -c 'echo \"hi\"'",
    "'unterminated",
    'A=1,B="2"',
    "A=",
    "=x",
    "syslog",
    "/dev/stdout",
    "AUTO",
    "NONE",
    "a,b",
    "PROCESS_STATE,TICK_5",
    "x\\",
]
TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\x00\n\r", blacklist_categories=("Cs",)), max_size=30
)
# NUL is left out of values (see the module docstring) but tried in keys and section names.
ODD_KEY = st.text(max_size=12).filter(lambda k: "\n" not in k and "\r" not in k)


def _often(draw: st.DrawFn, common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> Any:
    """Mostly ``common``, one time in eight ``rare``: garbage everywhere would stop every file at line 1."""
    return draw(rare if draw(st.integers(0, 7)) == 0 else common)


@st.composite
def values(draw: st.DrawFn) -> str:
    common = st.one_of(
        st.sampled_from(WORDS),
        st.integers(min_value=-(2**40), max_value=2**40).map(str),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    )
    return str(_often(draw, common, TEXT))


@st.composite
def ini_documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    sections = [_often(draw, st.sampled_from(SECTIONS), st.text(min_size=1, max_size=12)) for _ in range(4)]
    sections = sections[: draw(st.integers(0, 4))]
    if draw(st.integers(0, 9)):
        sections.insert(0, "supervisord")
    for name in sections:
        lines.append(f"[{name}]")
        if name.startswith(("program:", "eventlistener:")) and draw(st.integers(0, 4)):
            lines.append("command = /bin/true")
        for _ in range(draw(st.integers(0, 6))):
            key = _often(draw, st.sampled_from(KEYS), ODD_KEY)
            lines.append(f"{key} = {draw(values())}")
            if draw(st.integers(0, 15)) == 0:
                lines.append(
                    draw(st.sampled_from(["  continued", "", "; comment", "# c", "junk line", "[", " ["]))
                )
    if draw(st.integers(0, 15)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=20)))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def _load(scratch: Path, data: bytes) -> None:
    path = scratch / "supervisord.conf"
    path.write_bytes(data)
    try:
        config = load_config(
            str(path), environ={"HOME": str(scratch), "PATH": "/usr/bin:/bin"}, cwd=str(scratch)
        )
    except ConfigError as exc:
        assert exc.file, f"no file in {exc!r}"
        if exc.section or exc.key:
            assert exc.line, f"no line in {exc}"
        assert str(exc)
        return
    assert config.path == str(path)


@pytest.mark.timeout(120 * SCALE)
@FAST
@given(text=ini_documents())
def test_config_loader_fuzz(scratch: Path, text: str) -> None:
    _load(scratch, text.encode("utf-8", "surrogatepass"))


@pytest.mark.timeout(120 * SCALE)
@settings(FAST, max_examples=examples(60))
@given(data=st.binary(max_size=300))
def test_config_loader_fuzz_bytes(scratch: Path, data: bytes) -> None:
    _load(scratch, b"[supervisord]\n" + data)


# --- the XML-RPC request parser (in process) ---

SCALAR = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=10),
)
VALUES = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
METHOD = st.one_of(
    st.sampled_from(
        [
            "supervisor.getState",
            "supervisor.readLog",
            "supervisor.readProcessStdoutLog",
            "supervisor.tailProcessStderrLog",
            "supervisor.getProcessInfo",
            "supervisor.startProcess",
            "supervisor.stopProcess",
            "supervisor.signalProcess",
            "supervisor.sendProcessStdin",
            "supervisor.sendRemoteCommEvent",
            "supervisor.addProcessGroup",
            "supervisor.clearProcessLogs",
            "system.methodHelp",
            "system.methodSignature",
            "system.multicall",
            "system.listMethods",
        ]
    ),
    st.text(max_size=20),
)


def _xml_value(value: Any) -> str:
    """XML-RPC text for ``value``, including what xmlrpc.client refuses to write (big ints, NaN)."""
    if isinstance(value, bool):
        return f"<value><boolean>{int(value)}</boolean></value>"
    if isinstance(value, int):
        tag = "int" if -(2**31) <= value < 2**31 else "i8"
        return f"<value><{tag}>{value}</{tag}></value>"
    if isinstance(value, float):
        return f"<value><double>{value!r}</double></value>"
    if isinstance(value, bytes):
        return xmlrpc.client.dumps((value,)).split("<param>\n", 1)[1].rsplit("</param>", 1)[0]
    if isinstance(value, str):
        return f"<value><string>{xmlrpc.client.escape(value)}</string></value>"
    if isinstance(value, list):
        return "<value><array><data>" + "".join(_xml_value(v) for v in value) + "</data></array></value>"
    members = "".join(
        f"<member><name>{xmlrpc.client.escape(k)}</name>{_xml_value(v)}</member>" for k, v in value.items()
    )
    return f"<value><struct>{members}</struct></value>"


@st.composite
def calls(draw: st.DrawFn) -> bytes:
    method = xmlrpc.client.escape(draw(METHOD))
    params = "".join(f"<param>{_xml_value(v)}</param>" for v in draw(st.lists(VALUES, max_size=4)))
    body = f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    data = body.encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, 20))
    if cut == 0:  # damaged: a slice, a byte flipped, or junk appended
        i = draw(st.integers(0, len(data)))
        data = draw(
            st.sampled_from(
                [data[:i], data[:i] + b"\xff" + data[i + 1 :], data + draw(st.binary(max_size=8))]
            )
        )
    return data


def _parse_property(body: bytes) -> None:
    name, params = parse_call(body)
    if not name:
        return  # the front answers 400
    assert isinstance(name, str) and isinstance(params, tuple)
    # whatever a method might echo back is marshallable or a fault, never an exception
    assert marshal_result(list(params), 30).startswith(b"<?xml")
    assert marshal_fault(2, repr(params)[:200]).startswith(b"<?xml")


@pytest.mark.timeout(120 * SCALE)
@settings(FAST, max_examples=examples(300))
@given(body=calls())
def test_xmlrpc_parser_fuzz_calls(body: bytes) -> None:
    _parse_property(body)


@pytest.mark.timeout(120 * SCALE)
@settings(FAST, max_examples=examples(200))
@given(
    body=st.one_of(
        st.binary(max_size=400), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
    )
)
def test_xmlrpc_parser_fuzz_bytes(body: bytes) -> None:
    _parse_property(body)


# --- the XML-RPC front of the real daemon ---

PROGRAMS = """
[program:one]
command = /bin/sh -c 'echo out; exec sleep 1000'
startsecs = 0
stopwaitsecs = 1

[program:two]
command = sleep 1000
autostart = false
startsecs = 0
stopwaitsecs = 1
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, int]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    d = Daemon(tmp, PROGRAMS, supervisord=inet_section(port)).start()
    try:
        wait_ready(port)
        yield d, port
    finally:
        d.kill()


ENDS_DAEMON = re.compile(rb"supervisor\.(shutdown|restart)\b")


@pytest.mark.timeout(120 * SCALE)
@settings(FAST, max_examples=examples(40), deadline=timedelta(seconds=10))
@given(body=st.one_of(calls(), st.binary(max_size=200)))
def test_xmlrpc_daemon_fuzz(live: tuple[Daemon, int], body: bytes) -> None:
    d, port = live
    if ENDS_DAEMON.search(body):
        return  # would end the daemon under test
    reply = exchange(port, post("/RPC2", body), 10)
    status = status_of(reply)
    assert status in (200, 400), reply[:300]
    if status == 200:
        payload = reply.partition(b"\r\n\r\n")[2]
        try:
            xmlrpc.client.loads(payload, use_builtin_types=True)
        except xmlrpc.client.Fault:
            pass
    log = d.log()
    assert "Traceback" not in log and " CRIT XML-RPC" not in log, log[-2000:]
    assert "Traceback" not in d.stderr(), d.stderr()[-2000:]
    assert os.path.exists(d.tmp / "supervisord.pid")
