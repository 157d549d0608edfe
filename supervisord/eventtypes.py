"""Supervisor's event type names and their hierarchy.

Listeners subscribe with ``events=`` to concrete names (``PROCESS_STATE_RUNNING``) or to abstract parents
(``PROCESS_STATE``, or ``EVENT`` for everything). Supervisor models this with class inheritance; a table of
parents gives the same answers without classes, and the config loader uses it to reject unknown names.
"""

from __future__ import annotations

_PROCESS_STATES = ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")

# Every known name -> its parent (None for the root).
PARENTS: dict[str, str | None] = {
    "EVENT": None,
    "PROCESS_STATE": "EVENT",
    **{f"PROCESS_STATE_{state}": "PROCESS_STATE" for state in _PROCESS_STATES},
    "PROCESS_LOG": "EVENT",
    "PROCESS_LOG_STDOUT": "PROCESS_LOG",
    "PROCESS_LOG_STDERR": "PROCESS_LOG",
    "PROCESS_COMMUNICATION": "EVENT",
    "PROCESS_COMMUNICATION_STDOUT": "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDERR": "PROCESS_COMMUNICATION",
    "REMOTE_COMMUNICATION": "EVENT",
    "SUPERVISOR_STATE_CHANGE": "EVENT",
    "SUPERVISOR_STATE_CHANGE_RUNNING": "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_STOPPING": "SUPERVISOR_STATE_CHANGE",
    "TICK": "EVENT",
    "TICK_5": "TICK",
    "TICK_60": "TICK",
    "TICK_3600": "TICK",
    "PROCESS_GROUP": "EVENT",
    "PROCESS_GROUP_ADDED": "PROCESS_GROUP",
    "PROCESS_GROUP_REMOVED": "PROCESS_GROUP",
    # Ours (not in Supervisor): a file watch acted (README "Restart on change").
    "WATCH": "EVENT",
    "WATCH_PROCESS": "WATCH",
    "WATCH_CONFIG": "WATCH",
    # Ours: a liveness check (or the notify watchdog) changed its verdict (README "Health checks").
    "HEALTH": "EVENT",
    "HEALTH_PASSED": "HEALTH",
    "HEALTH_FAILED": "HEALTH",
}

ALL_EVENT_TYPES: tuple[str, ...] = tuple(PARENTS)

# Names that are only ever subscribed to, never emitted.
ABSTRACT_EVENT_TYPES: frozenset[str] = frozenset(parent for parent in PARENTS.values() if parent is not None)


def is_known(name: str) -> bool:
    """Whether ``name`` (any case) is a Supervisor event type, abstract or concrete."""
    return name.upper() in PARENTS


def ancestors(name: str) -> tuple[str, ...]:
    """``name`` itself followed by its parents up to ``EVENT``; empty for an unknown name."""
    current: str | None = name.upper()
    chain: list[str] = []
    while current is not None and current in PARENTS:
        chain.append(current)
        current = PARENTS[current]
    return tuple(chain)


def matches(subscribed: str, event: str) -> bool:
    """Whether a listener subscribed to ``subscribed`` receives an ``event`` (both any case)."""
    return subscribed.upper() in ancestors(event)
