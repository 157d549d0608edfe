"""Running a program's ``pre_start_hook`` … ``post_stop_hook`` commands without blocking anyone.

A hook is forked like the program itself (no shell; the program's user, directory and environment, plus
``SUPERVISOR_HOOK`` naming the hook) and then left to the I/O loop: its pidfd says when it exited, a loop
timer kills its whole session at ``hook_timeout``, and its output goes to the main log line by line. No
actor worker thread ever waits for a hook; the result comes back through ``on_done`` (on the I/O thread,
so callers only *tell* their actor from it).

The pid is registered in :class:`~supervisord.runtime.spawn.ManagedPids` under the spawn lock before the
orphan reaper can see it, so the exit status is ours.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from supervisord.config.model import ProcessConfig
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.ioloop import Timer
from supervisord.runtime.spawn import SpawnError, start_side_command
from supervisord.states import signal_name


@dataclass(frozen=True)
class HookResult:
    hook: str  # "pre_start", "post_start", "pre_stop" or "post_stop"
    ok: bool
    detail: str  # "exit status 0", "exit status 3", "timed out after 5 s (killed)", "could not start: …"
    pid: int = 0  # 0: it never started

    def describe(self) -> str:
        return f"{self.hook}_hook {'succeeded' if self.ok else 'failed'}: {self.detail}"


class RunningHook:
    """A started hook: kill it at its timeout (the loop's timer) or when its process goes away."""

    def __init__(self, hook: str, popen: subprocess.Popen[bytes], timeout: float) -> None:
        self.hook = hook
        self.popen = popen
        self.timeout = timeout
        self.timed_out = False
        self.timer: Timer | None = None
        self.finished = False
        self.deadline = time.monotonic() + timeout

    def finish(self) -> None:
        """Let the hook run out its timeout, then kill it; for its process actor's end (shutdown, remove).

        A post_stop_hook started by the last stop of a shutdown must be allowed to do its work; the
        shutdown budget counts ``hook_timeout`` for it.
        """
        try:
            self.popen.wait(max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                return

    def kill(self) -> None:
        """SIGKILL the hook's whole session (it ran with its own), grandchildren included."""
        if self.finished:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except OSError:
            pass


def run_hook(
    hook: str,
    command: str,
    config: ProcessConfig,
    env: Mapping[str, str],
    ctx: RuntimeContext,
    on_done: Callable[[HookResult], None],
) -> RunningHook | HookResult:
    """Start hook ``hook`` (``pre_start`` …); a hook that cannot even start is returned as its result."""
    timeout = config.hooks.timeout
    logger = ctx.logger
    name = config.namespec
    try:
        popen = start_side_command(command, config, {**env, "SUPERVISOR_HOOK": hook}, ctx.pids)
        try:
            pidfd = os.pidfd_open(popen.pid)
        except OSError:
            popen.kill()
            popen.wait()
            ctx.pids.discard(popen.pid)
            raise
    except (SpawnError, OSError, subprocess.SubprocessError) as exc:
        return HookResult(hook, False, f"could not start {command!r}: {exc}")
    assert popen.stdout is not None
    out_fd = os.dup(popen.stdout.fileno())
    popen.stdout.close()
    running = RunningHook(hook, popen, timeout)
    pid = popen.pid

    def on_output(data: bytes) -> None:
        for line in data.decode("utf-8", "replace").splitlines():
            logger.info("%s_hook of %s: %s", hook, name, line)

    def on_exit() -> None:  # I/O thread; the pidfd says it exited, so this wait returns at once
        if running.timer is not None:
            running.timer.cancel()
        try:
            status = popen.wait(1)
        except subprocess.TimeoutExpired:
            return
        running.finished = True
        ctx.pids.discard(pid)
        if running.timed_out:
            result = HookResult(hook, False, f"timed out after {_secs(timeout)} s (killed)", pid)
        elif status == 0:
            result = HookResult(hook, True, "exit status 0", pid)
        elif status < 0:
            result = HookResult(hook, False, f"terminated by {signal_name(-status)}", pid)
        else:
            result = HookResult(hook, False, f"exit status {status}", pid)
        level = logging.INFO if result.ok else logging.WARNING
        logger.log(level, "%s of %s (%r)", result.describe(), name, command)
        on_done(result)

    def on_timeout() -> None:  # I/O thread
        if not running.finished:
            running.timed_out = True
            running.kill()

    ctx.ioloop.watch_pipe(out_fd, on_output, lambda: None)
    ctx.ioloop.watch_exit(pidfd, on_exit)
    running.timer = ctx.ioloop.call_at(time.monotonic() + timeout, on_timeout)
    return running


def _secs(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
