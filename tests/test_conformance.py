"""The conformance kit's scenarios: each runs on real Supervisor 4.3.0 and on our daemon, driven by the real
supervisorctl; the normalised transcripts must be identical.

Uses the test environment's own ``supervisor`` package (tox installs supervisor==4.3.0) instead of the
kit's ``~/.cache/supervisor-ref`` venv, so nothing is downloaded. ``SUPERVISORD_SKIP_CONFORMANCE=1`` skips
the module (about 3 minutes on 2 cores); ``SUPERVISORD_CONFORMANCE=a,b`` runs only some scenarios.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

KIT_DIR = Path(__file__).parent / "conformance"
sys.path.insert(0, str(KIT_DIR))

import compat  # noqa: E402
import kit  # noqa: E402

# Every scenario of the kit runs; add a name here only with a reason.
NOT_YET: set[str] = set()
REF = f"{sys.executable} -m supervisor.supervisord"
# SUPERVISORD_CONFORMANCE_CANDIDATE=dist/supervisord runs the kit against the one-file binary instead.
CAND = os.environ.get("SUPERVISORD_CONFORMANCE_CANDIDATE") or f"{sys.executable} -m supervisord"
SCENARIO_TIMEOUT = 100

pytestmark = pytest.mark.skipif(
    os.environ.get("SUPERVISORD_SKIP_CONFORMANCE") == "1", reason="SUPERVISORD_SKIP_CONFORMANCE=1"
)


def _chosen() -> list[Any]:
    only = {n for n in os.environ.get("SUPERVISORD_CONFORMANCE", "").split(",") if n}
    return [s for s in compat.SCENARIOS if s.name not in NOT_YET and (not only or s.name in only)]


@pytest.fixture(scope="module", autouse=True)
def _reference_tools() -> None:
    """Point the kit at this environment's supervisorctl and python (both have supervisor 4.3.0)."""
    ctl = shutil.which("supervisorctl", path=os.path.dirname(sys.executable))
    if ctl is None:
        pytest.skip("supervisorctl is not installed next to this python")
    import supervisor

    if getattr(supervisor, "__version__", None) not in (None, "4.3.0"):
        pytest.skip("the reference must be supervisor 4.3.0")
    kit.SUPERVISORCTL = ctl
    kit.REF_PYTHON = sys.executable


def _reference_trial(name: str) -> tuple[list[tuple[str, str]], str | None]:
    """One scenario on real Supervisor (in the forked worker; scenarios are found again by name)."""
    (scenario,) = [s for s in compat.SCENARIOS if s.name == name]
    entries, err = compat.run_trial(scenario, REF, "ref", timeout=SCENARIO_TIMEOUT)
    return list(entries), err


def _dump(entries: list[tuple[str, str]]) -> str:
    return "\n".join(f"## {label}\n{text}" for label, text in entries)


@pytest.mark.timeout(2 * SCENARIO_TIMEOUT + 30)
@pytest.mark.parametrize("scenario", _chosen(), ids=lambda s: s.name)
def test_scenario_matches_supervisor(scenario: Any) -> None:
    # Both sides at once: the reference in a forked process (the kit's scenario timeout is a SIGALRM, which
    # needs a main thread of its own), ours here. Each trial has its own directories, ports and tags, and
    # the scenarios wait on conditions, not on time, so running them side by side halves the module's time.
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        reference = pool.submit(_reference_trial, scenario.name)
        cand, _ = compat.run_trial(scenario, CAND, "cand", timeout=SCENARIO_TIMEOUT)
        ref, ref_err = reference.result(timeout=SCENARIO_TIMEOUT + 30)
    assert not ref_err, f"the reference itself failed: {ref_err}\n{_dump(ref)}"
    diff = compat.diff_entries(ref, cand)
    assert diff is None, f"{diff}\n---- ref\n{_dump(ref)}\n---- ours\n{_dump(cand)}"
