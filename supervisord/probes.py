"""Running readiness and liveness probes (http, tcp, script) off the actors' workers and the hub.

A probe blocks for up to its timeout (a connect, an HTTP answer, a command), so it never runs on an actor's
worker or on the gevent hub: each runtime has one small :class:`Prober` (a thread pool) that runs them and
hands the verdict to a callback, which tells the owning process actor. A script probe's child is registered
in :class:`~supervisord.runtime.spawn.ManagedPids` under its lock while it is forked, so the orphan reaper
never takes its exit status.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pykka

from supervisord.config.checks import parse_http_probe
from supervisord.config.model import Probe, ProcessConfig
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.spawn import SpawnError, start_side_command

WORKERS = 4  # probes are short and mostly waiting; more processes just queue a little
OUTPUT_SHOWN = 200  # characters of a failing script's output kept for the description

_lock = threading.Lock()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str  # "HTTP 200", "connected", "exit 0", "connection refused", ...


class Prober:
    """A few daemon threads taking probe jobs from a queue.

    Not a ``ThreadPoolExecutor``: its threads are joined at interpreter exit, so an HTTP probe in flight
    would hold the daemon's exit for up to its timeout; a probe's answer is worthless once we leave.
    """

    def __init__(self, workers: int = WORKERS) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.closed = False
        self.threads = [
            threading.Thread(target=self._work, name=f"probe-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        if self.closed:
            raise RuntimeError("the prober is closed")
        self.jobs.put(job)

    def shutdown(self) -> None:
        self.closed = True
        for _ in self.threads:
            self.jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            job()  # never raises: submit() wraps every job


def prober(ctx: RuntimeContext) -> Prober:
    """The runtime's probe pool, created on first use (a daemon without checks starts no thread)."""
    with _lock:
        pool = ctx.prober
        if pool is None:
            pool = ctx.prober = Prober()
        return pool


def close_prober(ctx: RuntimeContext) -> None:
    """At the end of a run: no new probes, and a running script probe is killed (no orphan outlives us)."""
    with _lock:
        pool, ctx.prober = ctx.prober, None
        pids = list(ctx.probe_children)
    if pool is not None:
        pool.shutdown()
    for pid in pids:  # its thread reaps it at once (communicate returns)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def submit(
    ctx: RuntimeContext,
    probe: Probe,
    timeout: float,
    config: ProcessConfig,
    env: Mapping[str, str],
    done: Callable[[Verdict], None],
) -> None:
    """Run ``probe`` on the pool and call ``done`` with its verdict there (never raises)."""

    def job() -> None:
        try:
            verdict = run(probe, timeout, config, env, ctx)
        except Exception as exc:  # a probe's bug is a failed check, never a dead pool thread
            verdict = Verdict(False, f"probe error: {exc}")
        try:
            done(verdict)
        except pykka.ActorDeadError:
            pass  # the process was removed (or the daemon stopped) while its probe ran
        except Exception:
            ctx.logger.exception("probe callback for %s failed", config.namespec)

    try:
        prober(ctx).submit(job)
    except RuntimeError:  # the pool was shut down: the daemon is stopping
        pass


def run(
    probe: Probe, timeout: float, config: ProcessConfig, env: Mapping[str, str], ctx: RuntimeContext
) -> Verdict:
    """One check, blocking up to ``timeout`` seconds."""
    if probe.kind == "http":
        return _http(probe.target, timeout)
    if probe.kind == "tcp":
        return _tcp(probe.target, timeout)
    return _script(probe.target, timeout, config, env, ctx)


def _http(target: str, timeout: float) -> Verdict:
    """Any answer below 400 passes (redirects are followed, as the Go project does). With ``-d`` the
    request is a POST of that body, as there; ``-H``, ``--cert``/``--key`` and ``--ca`` are honoured."""
    import requests  # here: ~8 MB of modules a daemon without http probes never needs

    probe = parse_http_probe(target)  # checked at load; a file that went away since is a failed check
    body: bytes | None = None
    if probe.data is not None:
        if probe.data.startswith("@"):
            with open(probe.data[1:], "rb") as fh:
                body = fh.read()
        else:
            body = probe.data.encode()
    try:
        with requests.request(
            "POST" if body else "GET",
            probe.url,
            headers=dict(probe.headers),
            data=body,
            cert=(probe.cert, probe.key) if probe.cert and probe.key else None,
            verify=probe.ca or True,
            timeout=timeout,
            stream=True,
        ) as response:
            code = response.status_code
    except requests.RequestException as exc:
        return Verdict(False, _short(type(exc).__name__, exc))
    return Verdict(code < 400, f"HTTP {code}")


def _tcp(target: str, timeout: float) -> Verdict:
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        return Verdict(False, _short("connect", exc))
    return Verdict(True, "connected")


def _script(
    command: str, timeout: float, config: ProcessConfig, env: Mapping[str, str], ctx: RuntimeContext
) -> Verdict:
    """Exit 0 passes; the program's user, directory and environment; killed (group) at the timeout."""
    try:
        popen = start_side_command(command, config, env, ctx.pids)
    except SpawnError as exc:
        return Verdict(False, str(exc))
    except (OSError, subprocess.SubprocessError) as exc:
        return Verdict(False, _short("could not run", exc))
    with _lock:
        ctx.probe_children[popen.pid] = popen
    try:
        try:
            output, _ = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except OSError:
                pass
            popen.communicate()
            return Verdict(False, f"timed out after {timeout:g} s")
    finally:
        if popen.returncode is None:
            popen.kill()
            popen.wait()
        with _lock:
            ctx.probe_children.pop(popen.pid, None)
        ctx.pids.discard(popen.pid)
    code = popen.returncode
    text = output.decode("utf-8", "replace").strip().replace("\n", " ")
    detail = f"exit {code}" if code >= 0 else f"killed by signal {-code}"
    if code != 0 and text:
        detail += f": {text[:OUTPUT_SHOWN]}"
    return Verdict(code == 0, detail)


def _short(what: str, exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{what}: {text[:OUTPUT_SHOWN]}"
