"""The daemon-wide services an actor needs, handed to it at construction (no module globals)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from supervisord.config.model import SupervisordConfig
from supervisord.runtime.ioloop import IOLoop
from supervisord.runtime.spawn import ManagedPids


@dataclass
class RuntimeContext:
    ioloop: IOLoop
    pids: ManagedPids
    logger: logging.Logger
    settings: SupervisordConfig
    base_environ: Mapping[str, str]  # the daemon's environment when it started
    serverurl: str | None  # SUPERVISOR_SERVER_URL for children (AUTO)
    supervisor: Any = None  # the SupervisorActor's ref, set once it exists
    extra: dict[str, Any] = field(default_factory=dict)
