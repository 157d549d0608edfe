"""The daemon-wide services an actor needs, handed to it at construction (no module globals).

Each service is a typed field (an ``ActorRef[T]`` for an actor), so a reader gets its type checked and a
misspelt name is a mypy error, not a silent None from a string-keyed dict.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pykka

from supervisord.config.model import SupervisordConfig
from supervisord.runtime.ioloop import IOLoop
from supervisord.runtime.spawn import ManagedPids

if TYPE_CHECKING:
    from supervisord.actors.eventbus import EventBusActor
    from supervisord.actors.supervisor import SupervisorActor
    from supervisord.probes import Prober
    from supervisord.runtime.fswatch import WatchService


@dataclass
class RuntimeContext:
    ioloop: IOLoop
    pids: ManagedPids
    logger: logging.Logger
    settings: SupervisordConfig
    base_environ: Mapping[str, str]  # the daemon's environment when it started
    serverurl: str | None  # SUPERVISOR_SERVER_URL for children (AUTO)
    supervisor: pykka.ActorRef[SupervisorActor] | None = None  # set once it exists
    eventbus: pykka.ActorRef[EventBusActor] | None = None  # events and listeners (None in unit tests)
    journal: pykka.ActorRef[Any] | None = None  # the child journal (pids to reap after a crash)
    fswatch: WatchService | None = None  # the shared file-watch service, made on first use
    watch_commands: dict[int, subprocess.Popen[bytes]] = field(
        default_factory=dict
    )  # running restart commands
    prober: Prober | None = None  # the readiness/liveness probe threads, made on first use
    probe_children: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)  # running script probes
    event_drops: dict[str, int] = field(default_factory=dict)  # events dropped per pool (each pool its own)
