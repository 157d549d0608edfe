"""The hand-written XML-RPC response marshaller writes exactly what xmlrpc.client writes."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import pytest

from supervisord.web.xmlrpc import _marshal, dumps_response

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
        xmlrpc.client.loads(_marshal(value))
    assert "unmarshallable result" in fault.value.faultString
