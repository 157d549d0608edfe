"""What a process looks like from outside: an immutable snapshot, and Supervisor's process-info struct.

Process actors publish a new :class:`ProcessSnapshot` on every state change; readers (XML-RPC, REST,
metrics, ``ctl status``) take snapshots from the supervisor actor in one ask instead of asking every
process actor, which keeps ``getAllProcessInfo`` over 1,000 processes a single message.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from supervisord.namespec import make as make_namespec
from supervisord.states import ProcessState

if TYPE_CHECKING:
    from supervisord.runtime.cgroups import ProcessCgroup


@dataclass(frozen=True, slots=True)  # slots: two live per process (the actor's and the cache's)
class ProcessSnapshot:
    name: str
    group: str
    state: ProcessState
    pid: int
    start: float  # wall-clock time of the last spawn, 0 if never
    stop: float  # wall-clock time of the last exit, 0 if never
    spawnerr: str
    exitstatus: int
    stdout_logfile: str  # "" when there is no file
    stderr_logfile: str
    group_priority: int
    priority: int
    serial: int  # increases with every change of this process (ordering of concurrent updates)
    note: str = ""  # the last file-watch action and its cause (appended to the description)
    status: str = ""  # the child's last sd_notify STATUS= text (readiness_check = notify)
    health: str = ""  # the last liveness_check verdict, e.g. "health: passing (HTTP 200)"
    cgroup: ProcessCgroup | None = None  # the live process's own cgroup (memory_max, cpu_max, pids_max)

    @property
    def namespec(self) -> str:
        return make_namespec(self.group, self.name)

    def description(self, now: float) -> str:
        """Supervisor's ``description`` text, plus the last file-watch action when there was one."""
        text = self._state_description(now)
        extras = [part for part in (self.status, self.health, self.note) if part]
        return "; ".join([text, *extras]) if text else "; ".join(extras)

    def extra(self) -> dict[str, str]:
        """Fields beyond Supervisor's struct, for the REST API (``getProcessInfo`` keeps its 14)."""
        return {"status": self.status, "health": self.health, "note": self.note}

    def _state_description(self, now: float) -> str:
        """Supervisor's ``description`` text for this state (§1.5 of python-supervisor.md)."""
        state = self.state
        if state is ProcessState.RUNNING:
            seconds = max(0, int(now - self.start))
            return f"pid {self.pid}, uptime {datetime.timedelta(seconds=seconds)}"
        if state in (ProcessState.BACKOFF, ProcessState.FATAL):
            return self.spawnerr or f'unknown error (try "tail {self.namespec}")'
        if state in (ProcessState.STOPPED, ProcessState.EXITED):
            if not self.start:
                return "Not started"
            return time.strftime("%b %d %I:%M %p", time.localtime(self.stop))
        return ""

    def info(self, now: float | None = None) -> dict[str, Any]:
        """The 14-field struct of ``supervisor.getProcessInfo``, in Supervisor's field order."""
        now = time.time() if now is None else now
        return {
            "name": self.name,
            "group": self.group,
            "start": int(self.start),
            "stop": int(self.stop),
            "now": int(now),
            "state": int(self.state),
            "statename": self.state.name,
            "spawnerr": self.spawnerr,
            "exitstatus": self.exitstatus,
            "logfile": self.stdout_logfile,
            "stdout_logfile": self.stdout_logfile,
            "pid": self.pid,
            "stderr_logfile": self.stderr_logfile,
            "description": self.description(now),
        }
