"""``supervisord check``: every problem of a config file and its includes, found without starting anything.

The daemon stops at the first error (Supervisor's behaviour, and its message format); a check should show
them all, so it loads the same way inside :func:`~supervisord.config.errors.collect_errors`, where a bad
key falls back to its default and a bad section is skipped so that the loader reaches the next one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from supervisord.config.errors import ConfigError, collect_errors
from supervisord.config.loader import load_config


@dataclass(frozen=True)
class CheckResult:
    """Errors in the order found (each once), the loader's warnings, and what the config would run."""

    errors: tuple[ConfigError, ...]
    warnings: tuple[str, ...]
    programs: int
    included_files: tuple[str, ...]


def check_config(
    path: str, *, environ: Mapping[str, str] | None = None, cwd: str | None = None
) -> CheckResult:
    """Load ``path`` collecting every error; a clean result means the daemon would load it."""
    warnings: tuple[str, ...] = ()
    programs = 0
    included: tuple[str, ...] = ()
    with collect_errors() as found:
        try:
            config = load_config(path, environ=environ, cwd=cwd)
        except ConfigError as exc:  # a problem nothing can be checked past (e.g. an unreadable main file)
            found.append(exc)
        else:
            warnings = config.warnings
            programs = sum(len(group.processes) for group in config.groups)
            included = config.included_files
    # [program-default] keys and numprocs > 1 read the same text several times: report each problem once.
    unique = {str(err): err for err in found}
    # Reading order: the main file first, then each include, top to bottom.
    main = os.path.normpath(os.path.join(cwd or os.getcwd(), os.path.expanduser(path)))
    ordered = sorted(unique.values(), key=lambda e: (e.file != main, e.file or "", e.line or 0))
    return CheckResult(tuple(ordered), warnings, programs, included)
