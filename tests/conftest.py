"""Shared fixtures: ``daemon(body)`` starts the real supervisord on a temp config and stops it after."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import binarybuild
from harness import Daemon


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """The one-file binary's tests run last, and its build starts now, overlapping everything else."""
    binary = [item for item in items if item.nodeid.startswith("tests/test_binary.py")]
    if binary:
        items[:] = [item for item in items if item not in binary] + binary
        binarybuild.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    binarybuild.stop()


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
