"""``scripts/bench --smoke`` runs every case for real (N=5, one short round) and writes sane JSON.

The benchmark's ratios are figures, not pass/fail; this only checks that each case runs against both
daemons, that the correctness checks inside it hold, and that the document has the shape docs rely on.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "spawn",
    "rpc",
    "rss",
    "stopall",
    "storm",
    "storm-rss",
    "events",
    "delivery",
    "pingpong",
    "idle-cpu",
    "scale",
    "logs",
    "runtime",
}
CASES |= {"metrics", "web"}


@pytest.mark.timeout(200)
def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["smoke"] is True
    assert set(doc["cases"]) == CASES
    ceiling = doc["cases"].pop("pingpong")  # no daemon in it: one figure, no ratio
    assert len(ceiling["samples"]["ceiling"]) == 1 and ceiling["median"]["ceiling"] > 0
    for name, case in doc["cases"].items():
        assert set(case["median"]) == {"ours", "supervisor"}, name
        for impl, samples in case["samples"].items():
            assert len(samples) == 1 and all(math.isfinite(v) and v >= 0 for v in samples), (name, impl)
        assert math.isfinite(case["ratio_ours_vs_supervisor"]), name
        if "target" in case:
            assert isinstance(case["target_met"], bool), name
    cases = doc["cases"]
    assert all(v > 0 for v in cases["spawn"]["median"].values())
    assert all(v > 1000 for v in cases["rpc"]["body_bytes"].values())
    assert all(v > 5 for v in cases["rss"]["median"].values())
    assert cases["events"]["in_order"] and all(n[0] > 0 for n in cases["events"]["delivered"].values())
    delivery = cases["delivery"]
    assert delivery["in_order"] and all(n == [300] for n in delivery["delivered"].values())
    assert delivery["ceiling_events_per_s"] == ceiling["median"]["ceiling"]
    assert set(delivery["fraction_of_ceiling"]) == {"ours", "supervisor"}
    assert all(cases["scale"]["all_ok"].values())
    assert all(r["in_order_no_loss_no_dup"] for r in cases["logs"]["lossless"].values())
    assert (
        all(cases["metrics"]["all_ok"].values()) and cases["metrics"]["ours_metrics_server_ms"]["median"] > 0
    )
    assert cases["web"]["all_ok"]["ours"] and all(
        n >= 0 for n in cases["web"]["ours_events_per_s_per_client"]
    )
