"""How this copy was built, for ``supervisord version``: a one-file binary carries a ``build_info.json``
written by ``scripts/build-binary``; an installed package says which Python runs it."""

from __future__ import annotations

import json
import os
import platform
import sys


def describe() -> str:
    """One line: the build tools and source of a binary, or the interpreter of a package install."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        try:
            with open(os.path.join(bundle, "supervisord", "build_info.json")) as fh:
                info = json.load(fh)
        except (OSError, ValueError):
            return f"one-file binary (no build record), Python {platform.python_version()}"
        return (
            f"one-file binary: {info.get('tools', '?')}, Python {platform.python_version()}, "
            f"source {info.get('source', '?')}, built {info.get('built', '?')}"
        )
    return f"Python package, Python {platform.python_version()} ({sys.executable})"
