"""Exact payload and envelope text of every event type (python-supervisor.md §2.1 and §2.2)."""

from __future__ import annotations

import pytest

from supervisord import events
from supervisord.states import ProcessState as S


@pytest.mark.parametrize(
    ("new", "old", "expected", "payload"),
    [
        (S.STARTING, S.STOPPED, None, "processname:p groupname:g from_state:STOPPED tries:0"),
        (S.BACKOFF, S.STARTING, None, "processname:p groupname:g from_state:STARTING tries:0"),
        (S.RUNNING, S.STARTING, None, "processname:p groupname:g from_state:STARTING pid:42"),
        (S.STOPPING, S.RUNNING, None, "processname:p groupname:g from_state:RUNNING pid:42"),
        (S.STOPPED, S.STOPPING, None, "processname:p groupname:g from_state:STOPPING pid:42"),
        (S.EXITED, S.RUNNING, True, "processname:p groupname:g from_state:RUNNING expected:1 pid:42"),
        (S.EXITED, S.RUNNING, False, "processname:p groupname:g from_state:RUNNING expected:0 pid:42"),
        (S.FATAL, S.BACKOFF, None, "processname:p groupname:g from_state:BACKOFF"),
        (S.UNKNOWN, S.RUNNING, None, "processname:p groupname:g from_state:RUNNING"),
    ],
)
def test_process_state_payloads(new: S, old: S, expected: bool | None, payload: str) -> None:
    event = events.process_state(new, old, "p", "g", tries=0, pid=42, expected=expected)
    assert event.name == f"PROCESS_STATE_{new.name}"
    assert event.payload == payload


def test_backoff_tries_is_the_incremented_count() -> None:
    assert events.process_state(S.BACKOFF, S.STARTING, "q", "q", tries=4, pid=0).payload.endswith("tries:4")


def test_log_and_communication_payloads() -> None:
    log = events.process_log("comm", "comm", 7587, "stdout", b"hello stdout line\n")
    assert log.name == "PROCESS_LOG_STDOUT"
    assert log.payload == "processname:comm groupname:comm pid:7587 channel:stdout\nhello stdout line\n"
    comm = events.process_communication("comm", "comm", 7587, "stderr", b"captured payload")
    assert comm.name == "PROCESS_COMMUNICATION_STDERR"
    assert comm.payload == "processname:comm groupname:comm pid:7587\ncaptured payload"


def test_undecodable_output_is_rendered_like_supervisor() -> None:
    assert events.process_log("a", "a", 1, "stdout", b"\x88\n").payload.endswith("\nUndecodable: b'\\x88\\n'")


def test_other_payloads() -> None:
    assert events.remote_communication("mytype", "some data").payload == "type:mytype\nsome data"
    assert events.supervisor_state_change(running=True) == events.Event("SUPERVISOR_STATE_CHANGE_RUNNING", "")
    assert events.supervisor_state_change(running=False).name == "SUPERVISOR_STATE_CHANGE_STOPPING"
    assert events.tick(60, 1795638060) == events.Event("TICK_60", "when:1795638060")
    assert events.process_group(added=True, group="evlog").payload == "groupname:evlog\n"
    assert events.process_group(added=False, group="x").name == "PROCESS_GROUP_REMOVED"


def test_envelope_counts_characters_not_bytes() -> None:
    event = events.Event("REMOTE_COMMUNICATION", "type:t\nhéllo")
    raw = events.envelope(event, identifier="supervisor", serial=120, pool="evlog", poolserial=3)
    header, _, body = raw.partition(b"\n")
    assert header == (
        b"ver:3.0 server:supervisor serial:120 pool:evlog poolserial:3 eventname:REMOTE_COMMUNICATION len:12"
    )
    assert body.decode() == "type:t\nhéllo" and len(body) == 13


def test_watch_payloads() -> None:
    acted = events.watch_process("web", "g", 42, "restart", "binary /srv/app/web changed")
    assert acted.name == "WATCH_PROCESS"
    assert acted.payload == "processname:web groupname:g pid:42 action:restart\nbinary /srv/app/web changed"
    update = events.watch_config("update", "/etc/sv.conf changed", ["a", "b"], [], ["c"])
    assert update.name == "WATCH_CONFIG"
    assert update.payload == "action:update added:a,b changed: removed:c\n/etc/sv.conf changed"
