"""``scripts/build-binary`` started in the background as soon as the session knows it needs the binary.

A cold build (its venv, PyInstaller, staticx) takes minutes of mostly single-core work; started at
collection time it overlaps the rest of the suite instead of adding to it (the binary's tests run last).
The script itself returns at once when the sources are unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_PYTHON = os.environ.get("SUPERVISORD_BUILD_PYTHON", "/usr/bin/python3")
_build: tuple[subprocess.Popen[bytes], Path] | None = None


def missing_build_tools() -> str | None:
    """Why the binary cannot be built here (None: it can)."""
    if not os.path.exists(BUILD_PYTHON):
        return f"no distribution Python at {BUILD_PYTHON} (apt-get install python3 python3-venv)"
    if subprocess.run([BUILD_PYTHON, "-c", "import ensurepip, venv"], capture_output=True).returncode != 0:
        return f"{BUILD_PYTHON} cannot make venvs (apt-get install python3-venv)"
    if not shutil.which("objdump") or not shutil.which("strip"):
        return "binutils missing (apt-get install binutils)"
    return None


def start() -> None:
    """Start the build once (idempotent); nothing when the tools are missing (the tests then skip)."""
    global _build
    if _build is None and missing_build_tools() is None:
        log = Path(tempfile.mkstemp(prefix="build-binary-", suffix=".log")[1])
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(ROOT / "scripts" / "build-binary")], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        _build = (proc, log)


def wait(timeout: float) -> tuple[int, str]:
    """(exit status, the tail of its output), starting the build first if nobody did."""
    start()
    assert _build is not None, missing_build_tools()
    proc, log = _build
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    return code, log.read_text(errors="replace")[-6000:]


def stop() -> None:
    """At the session's end: a build nobody waited for (its tests deselected or failed early) is killed."""
    if _build is not None and _build[0].poll() is None:
        _build[0].kill()
        _build[0].wait()
