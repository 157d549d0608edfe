"""``scripts/bench-web`` runs its cases for real on a small scale and writes sane JSON (figures, not checks)."""

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
            "metrics",
            "sse",
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
    assert doc["metrics"]["processes"] == 10
    assert doc["metrics"]["metrics_scrape_server"]["median_ms"] > 0
    assert doc["sse"]["clients_still_connected"] == 20
    assert doc["sse"]["events_per_second_per_client"] > 0
