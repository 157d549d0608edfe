"""Per-process rlimits (``rlimit_nofile`` ...), applied in the child before it execs the program.

Why an exec wrapper: the spawn uses ``Popen`` without ``preexec_fn`` on purpose (no Python between fork and
exec in a threaded daemon), so nothing can run in the child between the two. The alternatives are worse:

* ``prlimit(pid, ...)`` from the parent after ``Popen`` returns is racy: the program already runs, may have
  opened its descriptors or forked workers with the old limits.
* Lowering the daemon's own limits around the fork (under the spawn lock) affects every other thread of the
  daemon for that moment (an accept or a log open fails with EMFILE, an allocation with ENOMEM under
  ``rlimit_as``), and a lowered hard limit cannot be raised again without CAP_SYS_RESOURCE.
* ``/usr/bin/prlimit`` is not on every host.

So a process with rlimits is started as ``python -I -S -c WRAPPER LIMITS argv...``: the interpreter that
runs the daemon (always present) sets the limits with ``setrlimit`` and ``execv``\\ s the program, in the
same pid, with the environment ``Popen`` gave it. It costs one interpreter start per spawn (measured about
50 ms on a loaded 2-core host, against 1.5 ms for a plain spawn); a process without rlimits is spawned
exactly as before.
"""

from __future__ import annotations

import resource
import sys

from supervisord.config.model import LimitsConfig

_RESOURCES = {
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
    "nproc": resource.RLIMIT_NPROC,
    "as": resource.RLIMIT_AS,
}

# Runs in the child (after Popen switched user, group, directory and umask): set each limit, then exec.
# argv: [-c, "name=value,...", program, args...]; a failure is said on stderr and exits 126 (as a shell).
_WRAPPER = """
import os, resource, sys
spec, argv = sys.argv[1], sys.argv[2:]
for item in spec.split(","):
    name, _, value = item.partition("=")
    limit = int(value)
    if limit < 0:
        limit = resource.RLIM_INFINITY
    try:
        resource.setrlimit(getattr(resource, "RLIMIT_" + name.upper()), (limit, limit))
    except (OSError, ValueError) as exc:
        sys.stderr.write("supervisord: cannot set rlimit_%s=%s: %s\\n" % (name, value, exc))
        sys.exit(126)
try:
    os.execv(argv[0], argv)
except OSError as exc:
    sys.stderr.write("supervisord: cannot exec %s: %s\\n" % (argv[0], exc))
    sys.exit(127)
"""


def check_rlimits(limits: LimitsConfig, uid: int) -> str | None:
    """Why these rlimits cannot be set for a child running as ``uid`` (None: they can).

    Only root may raise a hard limit; the child sets its limits after the user switch, so a value above the
    daemon's hard limit is refused here with a clear reason instead of a child that exits at once.
    """
    if uid == 0:
        return None
    for name, value in limits.rlimits:
        _soft, hard = resource.getrlimit(_RESOURCES[name])
        wanted = resource.RLIM_INFINITY if value < 0 else value
        if hard != resource.RLIM_INFINITY and (wanted == resource.RLIM_INFINITY or wanted > hard):
            shown = "unlimited" if value < 0 else str(value)
            return f"rlimit_{name}={shown} is above the hard limit {hard} and only root may raise it"
    return None


def wrap_argv(limits: LimitsConfig, argv: list[str]) -> list[str]:
    """``argv`` unchanged without rlimits, else the wrapper command line that sets them first."""
    if not limits.rlimits:
        return argv
    spec = ",".join(f"{name}={value}" for name, value in limits.rlimits)
    return [sys.executable, "-I", "-S", "-c", _WRAPPER, spec, *argv]
