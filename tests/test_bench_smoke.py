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
    "logs-disk",
    "runtime",
}
CASES |= {"metrics", "web"}


# The first group makes both venvs (ours from a wheel, Supervisor from PyPI); the rest then run side by
# side, three benches at once: the smoke run checks shapes and correctness, never figures.
FIRST = ["spawn", "rpc", "rss", "stopall"]


def _bench(cases: list[str], out: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "bench"), *cases, "--smoke", "--json", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
    )


@pytest.mark.timeout(200)
def test_bench_smoke(tmp_path: Path) -> None:
    rest = sorted(CASES - set(FIRST))
    groups = [FIRST] + [rest[i::3] for i in range(3)]
    docs = []
    for batch in ([groups[0]], groups[1:]):
        runs = [
            (_bench(cases, tmp_path / f"bench{i}.json", tmp_path), tmp_path / f"bench{i}.json")
            for i, cases in enumerate(batch, start=len(docs))
        ]
        for proc, out in runs:
            output, _ = proc.communicate(timeout=170)
            assert proc.returncode == 0, output[-4000:]
            docs.append(json.loads(out.read_text()))
    doc = {
        "smoke": all(d["smoke"] for d in docs),
        "cases": {k: v for d in docs for k, v in d["cases"].items()},
    }
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
    for name in ("logs", "logs-disk"):
        assert all(r["in_order_no_loss_no_dup"] for r in cases[name]["lossless"].values()), name
    assert cases["logs"]["scratch"]["filesystem"] == "tmpfs" or not Path("/dev/shm").is_dir()
    assert cases["logs-disk"]["scratch"]["filesystem"] not in ("tmpfs", "ramfs")
    assert (
        all(cases["metrics"]["all_ok"].values()) and cases["metrics"]["ours_metrics_server_ms"]["median"] > 0
    )
    assert cases["web"]["all_ok"]["ours"] and all(
        n >= 0 for n in cases["web"]["ours_events_per_s_per_client"]
    )
