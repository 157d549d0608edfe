"""``scripts/bench-web`` runs its page case for real on a small scale and writes sane JSON (figures, not checks).

The /metrics and SSE cases are in scripts/bench (tests/test_bench_smoke.py runs them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_web_smoke(tmp_path: Path) -> None:
    out = tmp_path / "web.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench-web"),
            "pages",
            "--n",
            "10",
            "--count",
            "8",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["pages"]["processes"] == 10 and doc["pages"]["rows"] == 10
    assert doc["pages"]["gui_page"]["median_ms"] > 0 and doc["pages"]["program_list"]["median_ms"] > 0


def test_bench_web_fleet_smoke(tmp_path: Path) -> None:
    import shutil

    import pytest

    if shutil.which("etcd") is None:
        pytest.skip("etcd is not installed (Debian etcd-server; .ci/run installs it)")
    out = tmp_path / "fleet.json"
    args = ["fleet", "--n", "5", "--count", "4", "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench-web"), *args],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())["fleet"]
    assert doc["nodes"] == 3 and doc["processes_per_node"] == 5
    assert doc["info_forwarded"]["median_ms"] > 0 and doc["offline_after_kill_s_ttl2"] > 0
