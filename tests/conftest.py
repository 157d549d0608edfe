"""Shared fixtures: ``daemon(body)`` starts the real supervisord on a temp config and stops it after."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import Daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def make(body: str, *, supervisord: str = "", start: bool = True, **kwargs: object) -> Daemon:
        d = Daemon(tmp_path, body, supervisord=supervisord, **kwargs)  # type: ignore[arg-type]
        started.append(d)
        return d.start() if start else d

    yield make
    for d in started:
        d.kill()
