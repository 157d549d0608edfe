"""Every package of the source tree is listed in setup.cfg: a missing one installs fine and fails at run time."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_source_package_is_in_setup_cfg() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = set()
    for top, name in (
        ("supervisord", "supervisord"),
        ("actors", "supervisord.actors"),
        ("web", "supervisord.web"),
    ):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *rel)))
    assert found == listed, (
        f"missing from setup.cfg: {sorted(found - listed)}; listed but absent: {sorted(listed - found)}"
    )
