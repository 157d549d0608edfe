"""Supervisor's events as values: a type name and the exact payload text listeners receive.

Pure functions only (no actors, no I/O), so every payload format can be checked against
python-supervisor.md §2.2 in unit tests. The event bus assigns serials; listener pools frame events into the
protocol 3.0 envelope with :func:`envelope`.
"""

from __future__ import annotations

from dataclasses import dataclass

from supervisord.states import ProcessState


@dataclass(frozen=True)
class Event:
    name: str  # a concrete type, e.g. PROCESS_STATE_RUNNING
    payload: str


def decode_output(data: bytes) -> str:
    """Child output as event text; bytes that are not UTF-8 are shown the way Supervisor shows them."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return f"Undecodable: {data!r}"


def process_state(
    new: ProcessState,
    old: ProcessState,
    name: str,
    group: str,
    *,
    tries: int,
    pid: int,
    expected: bool | None = None,
) -> Event:
    """PROCESS_STATE_<NEW>; the extra fields depend on the new state (no trailing newline)."""
    base = f"processname:{name} groupname:{group} from_state:{old.name}"
    if new in (ProcessState.STARTING, ProcessState.BACKOFF):
        payload = f"{base} tries:{tries}"
    elif new in (ProcessState.RUNNING, ProcessState.STOPPING, ProcessState.STOPPED):
        payload = f"{base} pid:{pid}"
    elif new is ProcessState.EXITED:
        payload = f"{base} expected:{int(bool(expected))} pid:{pid}"
    else:
        payload = base
    return Event(f"PROCESS_STATE_{new.name}", payload)


def process_log(name: str, group: str, pid: int, channel: str, data: bytes) -> Event:
    header = f"processname:{name} groupname:{group} pid:{pid} channel:{channel}"
    return Event(f"PROCESS_LOG_{channel.upper()}", f"{header}\n{decode_output(data)}")


def process_communication(name: str, group: str, pid: int, channel: str, data: bytes) -> Event:
    header = f"processname:{name} groupname:{group} pid:{pid}"
    return Event(f"PROCESS_COMMUNICATION_{channel.upper()}", f"{header}\n{decode_output(data)}")


def remote_communication(type_: str, data: str) -> Event:
    return Event("REMOTE_COMMUNICATION", f"type:{type_}\n{data}")


def supervisor_state_change(running: bool) -> Event:
    return Event("SUPERVISOR_STATE_CHANGE_" + ("RUNNING" if running else "STOPPING"), "")


def tick(period: int, when: int) -> Event:
    return Event(f"TICK_{period}", f"when:{when}")


def process_group(added: bool, group: str) -> Event:
    return Event("PROCESS_GROUP_" + ("ADDED" if added else "REMOVED"), f"groupname:{group}\n")


def watch_process(name: str, group: str, pid: int, action: str, cause: str) -> Event:
    """WATCH_PROCESS: a watched binary or file changed and ``action`` (restart, signal, command) was taken."""
    return Event("WATCH_PROCESS", f"processname:{name} groupname:{group} pid:{pid} action:{action}\n{cause}")


def watch_config(action: str, cause: str, added: list[str], changed: list[str], removed: list[str]) -> Event:
    """WATCH_CONFIG: config_watch applied an edit (``update``) or refused a broken one (``rejected``)."""
    lists = f"added:{','.join(added)} changed:{','.join(changed)} removed:{','.join(removed)}"
    return Event("WATCH_CONFIG", f"action:{action} {lists}\n{cause}")


def health(name: str, group: str, pid: int, passed: bool, action: str, detail: str) -> Event:
    """HEALTH_PASSED/HEALTH_FAILED: a liveness check reached its threshold; ``action`` is what was done."""
    head = f"processname:{name} groupname:{group} pid:{pid} action:{action}"
    return Event("HEALTH_" + ("PASSED" if passed else "FAILED"), f"{head}\n{detail}")


def envelope(event: Event, *, identifier: str, serial: int, pool: str, poolserial: int) -> bytes:
    """The protocol 3.0 header line plus payload; ``len`` counts characters, as Supervisor does."""
    header = (
        f"ver:3.0 server:{identifier} serial:{serial} pool:{pool} poolserial:{poolserial} "
        f"eventname:{event.name} len:{len(event.payload)}\n"
    )
    return (header + event.payload).encode("utf-8")
