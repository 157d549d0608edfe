"""The hand-written XML-RPC response marshaller writes exactly what xmlrpc.client writes."""

from __future__ import annotations

import random
import xmlrpc.client
from typing import Any

import pytest

from supervisord.web.xmlrpc_codec import NotFast, dumps_response, loads_call, marshal_fault, marshal_result

CASES: list[Any] = [
    True,
    False,
    0,
    -(2**31),
    2**31 - 1,
    "",
    "plain",
    "a <b> & c > d",
    "ünïcode ✓",
    [],
    (),
    {},
    [1, "two", [3, [4]], {"five": 5}],
    {"name": "x", "pid": 12, "ok": True, "nested": [{"a": "<&>"}]},
    1.5,  # not handled by the fast path: falls back to xmlrpc.client
    b"\x00bytes",
]


@pytest.mark.parametrize("value", CASES, ids=repr)
def test_same_text_as_stdlib(value: Any) -> None:
    assert dumps_response(value) == xmlrpc.client.dumps((value,), methodresponse=True)


def test_process_info_list_round_trips() -> None:
    infos = [
        {"name": f"p{i}", "group": "g", "pid": i, "description": f"pid {i}, uptime 0:00:01"}
        for i in range(50)
    ]
    assert xmlrpc.client.loads(dumps_response(infos))[0][0] == infos


@pytest.mark.parametrize("value", [2**31, [-(2**31) - 1], {1: "x"}, None])
def test_unmarshallable_becomes_a_fault(value: Any) -> None:
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(marshal_result(value, 1))
    assert "unmarshallable result" in fault.value.faultString


@pytest.mark.parametrize(
    ("code", "text"), [(10, "BAD_NAME: foo"), (2, "INCORRECT_PARAMETERS"), (1, "<&> ✓ \x00 bad")]
)
def test_fault_is_the_stdlib_fault(code: int, text: str) -> None:
    from supervisord.web.xmlrpc_codec import xml_safe

    expected = xmlrpc.client.dumps(xmlrpc.client.Fault(code, xml_safe(text)), methodresponse=True)
    assert marshal_fault(code, text) == expected.encode("utf-8", "xmlcharrefreplace")


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "bool", "float", "none"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice("ab <&>'\"\n\t ünï✓") for _ in range(rng.randrange(0, 8)))
    if kind == "int":
        return rng.randrange(-(2**31), 2**31)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "none":
        return None
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(0, 4))}


def test_call_parser_agrees_with_stdlib_on_random_calls() -> None:
    rng = random.Random(7)
    for _ in range(500):
        params = tuple(_random_value(rng) for _ in range(rng.randrange(0, 4)))
        body = xmlrpc.client.dumps(params, "supervisor.someMethod", allow_none=True).encode()
        expected, name = xmlrpc.client.loads(body, use_builtin_types=True)
        assert loads_call(body) == (name, expected)


def test_big_calls_parsed_in_slices_agree_with_stdlib() -> None:
    """A body over one feed slice is parsed in slices cut before tags: the same values, escapes and all;
    a comment or CDATA (where a ``<`` need not start a tag) still parses, in one feed."""
    rng = random.Random(11)
    texts = ["plain", "a &amp; b < c > d", "caf\u00e9 \u2603", "x" * 40_000, "line\nbreak\r\n", ""]
    calls = [
        {"methodName": "supervisor.sendRemoteCommEvent", "params": [rng.choice(texts), rng.choice(texts)]}
        for _ in range(600)
    ]
    body = xmlrpc.client.dumps((calls,), "system.multicall").encode()
    assert len(body) > 100_000
    params, name = xmlrpc.client.loads(body, use_builtin_types=True)
    assert loads_call(body) == (name, params)
    tail = (
        b"<!-- a <comment> --><params><param><value><string><![CDATA[<x>]]></string></value></param></params>"
    )
    odd = body.replace(b"<params>", tail[: tail.index(b"<params>")] + b"<params>", 1)
    odd = odd.replace(b"<string>plain</string>", b"<string><![CDATA[<pl>ain]]></string>", 1)
    params, name = xmlrpc.client.loads(odd, use_builtin_types=True)
    assert loads_call(odd) == (name, params)


HAND_WRITTEN = [
    b"<?xml version='1.0'?><methodCall><methodName>a.b</methodName></methodCall>",
    b"<methodCall><methodName>a.b</methodName><params></params></methodCall>",
    b"<methodCall><methodName>a.b</methodName><params><param><value>untyped &amp; text</value></param>"
    b"</params></methodCall>",
    b"<methodCall><methodName>a.b</methodName><params><param><value><i4> 42 </i4></value></param>"
    b"<param><value><i8>-7</i8></value></param><param><value><string/></value></param>"
    b"<param><value/></param></params></methodCall>",
    b"<methodCall>\n  <methodName>a.b</methodName>\n  <params>\n    <param>\n      <value>\n"
    b"        <struct><member><name>x</name><value><int>1</int></value></member>"
    b"<member><name>x</name><value><int>2</int></value></member></struct>\n"
    b"      </value>\n    </param>\n  </params>\n</methodCall>",
    b"<?xml version='1.0' encoding='iso-8859-1'?><methodCall><methodName>a.b</methodName><params>"
    b"<param><value><string>caf\xe9</string></value></param></params></methodCall>",
]

LEFT_TO_STDLIB = [
    b"not xml at all",
    b"<methodCall><params/></methodCall>",
    b"<methodCall><methodName>a.b</methodName><params><param><value><base64>aGk=</base64></value>"
    b"</param></params></methodCall>",
    b"<methodCall><methodName>a.b</methodName><params><param><value><dateTime.iso8601>20260101T00:00:00"
    b"</dateTime.iso8601></value></param></params></methodCall>",
    b"<methodCall><methodName>a.b</methodName><params><param><value><boolean>yes</boolean></value>"
    b"</param></params></methodCall>",
    b"<methodCall><methodName>a.b</methodName><params><param><value><int>x</int></value></param>"
    b"</params></methodCall>",
    b"<methodCall><methodName></methodName></methodCall>",
]


@pytest.mark.parametrize("body", HAND_WRITTEN, ids=range(len(HAND_WRITTEN)))
def test_call_parser_agrees_with_stdlib_on_hand_written_calls(body: bytes) -> None:
    params, name = xmlrpc.client.loads(body, use_builtin_types=True)
    assert loads_call(body) == (name, params)


@pytest.mark.parametrize("body", LEFT_TO_STDLIB, ids=range(len(LEFT_TO_STDLIB)))
def test_call_parser_leaves_unusual_bodies_to_the_stdlib(body: bytes) -> None:
    with pytest.raises(NotFast):
        loads_call(body)


def test_cached_process_structs_are_the_fresh_bytes() -> None:
    from supervisord.snapshot import ProcessSnapshot
    from supervisord.states import ProcessState
    from supervisord.web.processinfo import ProcessInfoCache

    def snap(name: str, state: ProcessState, start: float, serial: int) -> ProcessSnapshot:
        pid = 100 if state is ProcessState.RUNNING else 0
        return ProcessSnapshot(name, "g", state, pid, start, 0.0, "", 0, "/l", "", 999, 999, serial)

    cache = ProcessInfoCache()
    running = snap("a", ProcessState.RUNNING, 1000.75, 3)
    stopped = snap("b", ProcessState.STOPPED, 0.0, 1)
    # the same second, then a new uptime second within the same wall second, then a new wall second
    for now in (1005.3, 1005.3, 1005.9, 1006.1, 1006.1):
        got = dumps_response(cache.structs([running, stopped], now))
        assert got == xmlrpc.client.dumps(([running.info(now), stopped.info(now)],), methodresponse=True)
    first, again = cache.structs([running], 1007.5), cache.structs([running], 1007.6)
    assert first[0] is again[0]  # reused, not rebuilt
    changed = snap("a", ProcessState.STOPPING, 1000.75, 4)
    got = dumps_response(cache.structs([changed], 1006.2))
    assert got == xmlrpc.client.dumps(([changed.info(1006.2)],), methodresponse=True)


def test_cached_process_structs_are_dropped_once_their_second_is_over() -> None:
    """Every entry is keyed on its wall second, so none is reused after it: the cache frees them (about
    1.3 KB per process) instead of holding them until the next call."""
    import time

    import gevent

    from supervisord.snapshot import ProcessSnapshot
    from supervisord.states import ProcessState
    from supervisord.web.processinfo import ProcessInfoCache

    running = ProcessSnapshot(
        "a", "g", ProcessState.RUNNING, 100, time.time() - 5, 0.0, "", 0, "/l", "", 999, 999, 1
    )
    cache = ProcessInfoCache()
    now = time.time()
    first = dumps_response(cache.structs([running], now))
    assert cache._entries
    deadline = time.monotonic() + 10
    while cache._entries and time.monotonic() < deadline:
        gevent.sleep(0.05)  # the hub runs the expiry timer
    assert not cache._entries
    later = time.time()
    assert dumps_response(cache.structs([running], later)) == xmlrpc.client.dumps(
        ([running.info(later)],), methodresponse=True
    )
    assert first == xmlrpc.client.dumps(([running.info(now)],), methodresponse=True)
