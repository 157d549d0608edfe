"""The daemon's main program: start the runtime, serve until a signal, stop everything in order.

Threads (docs/architecture.md): the main thread runs the gevent hub (signals, and the HTTP servers once they
exist); the actors share a small pool of worker threads (supervisord/runtime/pooled.py); one I/O thread
watches pidfds, pipes and timers. The hub never blocks on an OS primitive: it waits on hub-safe futures only.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import pykka

from supervisord import mainlog
from supervisord.actors.childjournal import start_journal
from supervisord.actors.eventbus import EventBusActor
from supervisord.actors.logsink import Reopen
from supervisord.actors.messages import AutostartForked, BeginShutdown, Broadcast
from supervisord.actors.supervisor import SupervisorActor
from supervisord.actors.watcher import close_watch_service
from supervisord.config.errors import ConfigError
from supervisord.config.model import Config
from supervisord.logtargets import clear_auto_logs
from supervisord.probes import close_prober
from supervisord.runtime import cgroups, faults, outlet
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import bind_hub
from supervisord.runtime.ioloop import IOLoop
from supervisord.runtime.leftovers import stop_leftovers
from supervisord.runtime.malloc import limit_arenas
from supervisord.runtime.reaper import OrphanReaper, become_subreaper
from supervisord.runtime.spawn import ManagedPids
from supervisord.sdnotify import Notifier
from supervisord.web.app import build_app
from supervisord.web.server import ListenError, Listeners, rebind_listeners, start_http_servers

SHUTDOWN = "shutdown"
RESTART = "restart"
FIRST_WAVE_TIMEOUT = 5  # seconds the servers wait for the autostarts to fork before serving anyway
STDIO_FLUSH_TIMEOUT = 1.0  # seconds a slow reader of our stdout gets, at exit, for the last log lines
ROOT_WARNING = (
    "Supervisor is running as root.  Privileges were not dropped because no user is specified in the "
    "config file.  If you intend to run as root, you can set user=root in the config file to avoid this "
    "message."
)


def server_url(config: Config) -> str | None:
    """SUPERVISOR_SERVER_URL for children: the unix socket first, else the inet server (Supervisor's rule)."""
    if config.unix_http_server is not None:
        return f"unix://{config.unix_http_server.file}"
    if config.inet_http_server is not None:
        host = config.inet_http_server.host or "localhost"
        if host in ("*", "0.0.0.0"):
            host = "localhost"
        return f"http://{host}:{config.inet_http_server.port}"
    return None


def shutdown_budget(config: Config) -> float:
    """An upper bound on an orderly stop: every stop signal's wait plus the SIGKILL waits, summed."""
    total = 5.0
    for group in config.groups:
        for proc in group.processes:
            total += len(proc.stopsignals) * proc.stopwaitsecs + 3 * max(proc.killwaitsecs, 1.0)
            # The stop signal waits for the pre_stop_hook; the post_stop_hook may run out its time.
            total += proc.hooks.timeout * (bool(proc.hooks.pre_stop) + bool(proc.hooks.post_stop))
    return total


class Daemon:
    """One run of the runtime over one config (a reload builds a new runtime with the new config)."""

    def __init__(
        self,
        config: Config,
        logger: logging.Logger,
        reload_config: Callable[[], Config],
        listeners: Listeners,
    ) -> None:
        self.config = config
        self.listeners = listeners
        self.logger = logger
        self.reload_config = reload_config
        self.stop_event = gevent.event.Event()
        self.mood = SHUTDOWN
        self.supervisor: Any = None
        self.ctx: RuntimeContext | None = None
        self.fleet: Any = None  # the fleet agent, with a [fleet] section (supervisord/fleet/agent.py)
        # Told (from the fleet's thread) when the fleet view changes; the live feed sets it.
        self.on_fleet_change: Callable[[], None] | None = None
        # Called once the HTTP servers accept requests (``-d`` tells the launching process it may exit).
        self.on_ready: Callable[[], None] | None = None
        self.on_stop: Callable[[str], None] | None = None  # called with the mood once a stop is requested

    # -- requests from signals or RPC (hub thread) --

    def request(self, mood: str) -> None:
        self.mood = mood
        self.stop_event.set()

    def reopen_logs(self) -> None:
        mainlog.reopen()
        self.logger.info("received SIGUSR2 indicating log reopen request")
        if self.supervisor is not None:
            self.supervisor.tell(Broadcast(Reopen()))

    # -- one run --

    def _await_first_wave(self) -> None:
        """Serve only once the autostarts have forked (requests wait in the listen backlog meanwhile).

        Bounded, and silent when the bound is hit: whatever delays the wave (a slow disk under the log
        files, say), HTTP must come up regardless.
        """
        assert self.supervisor is not None
        try:
            self.supervisor.ask(AutostartForked(), timeout=FIRST_WAVE_TIMEOUT).get(timeout=FIRST_WAVE_TIMEOUT)
        except pykka.Timeout:
            pass

    def run(self, ioloop: IOLoop, pids: ManagedPids) -> str:
        ctx = RuntimeContext(
            ioloop=ioloop,
            pids=pids,
            logger=self.logger,
            settings=self.config.supervisord,
            base_environ=dict(os.environ),
            serverurl=server_url(self.config),
        )
        self.ctx = ctx
        stoppers: list[Callable[[], None]] = []
        try:
            ctx.eventbus = EventBusActor.start(ctx)
            ctx.journal = start_journal(ctx)
            if not ctx.settings.nocleanup:  # stale AUTO child logs of this identifier (Supervisor does too)
                clear_auto_logs(ctx.settings.childlogdir, ctx.settings.identifier)
            if os.getuid() == 0 and not ctx.settings.user:
                self.logger.critical(ROOT_WARNING)
            # Supervisor's log order: the servers' lines, "started", then the spawns. Serving starts only
            # once the supervisor actor exists, so no request ever finds the runtime half-built.
            app = build_app(self)
            self.logger.info("supervisord started with pid %d", os.getpid())
            self.supervisor = SupervisorActor.start(self.config, ctx)
            self._await_first_wave()
            stoppers.append(start_http_servers(self, self.listeners, app))
            if self.config.supervisord.config_watch:
                from supervisord.configwatch import ConfigWatch

                stoppers.append(ConfigWatch(self).stop)
            if self.config.fleet is not None:
                from supervisord.fleet.agent import start_fleet

                stoppers.append(start_fleet(self, self.config.fleet))
            if self.on_ready is not None:
                self.on_ready()
                self.on_ready = None
            self.stop_event.wait()
            if self.on_stop is not None:
                self.on_stop(self.mood)
            try:
                done = self.supervisor.ask(BeginShutdown(), timeout=10)
                done.get(timeout=shutdown_budget(self.config))
            except pykka.Timeout:
                self.logger.critical("processes did not stop in time; killing what is left")
            except pykka.ActorDeadError:  # already reported; stopping the actors below kills what is left
                pass
        finally:
            for stop in reversed(stoppers):
                try:
                    stop()
                except Exception:
                    self.logger.exception("error stopping a service")
            pykka.ActorRegistry.stop_all(block=True, timeout=10)
            close_watch_service(ctx)
            close_prober(ctx)
        return self.mood


def _install_signals(state: dict[str, Daemon]) -> None:
    def on_stop(signum: int) -> Callable[[], None]:
        def handler() -> None:
            daemon = state["daemon"]
            daemon.logger.warning("received %s indicating exit request", signal.Signals(signum).name)
            daemon.request(SHUTDOWN)

        return handler

    def on_hup() -> None:
        # Logged here, where the cause is known: an RPC restart logs nothing, as in Supervisor.
        daemon = state["daemon"]
        if daemon.stop_event.is_set() and daemon.mood == SHUTDOWN:
            daemon.logger.warning("ignored SIGHUP indicating restart request (shutdown in progress)")
            return
        daemon.logger.warning("received SIGHUP indicating restart request")
        daemon.request(RESTART)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        gevent.signal_handler(signum, on_stop(signum))
    gevent.signal_handler(signal.SIGHUP, on_hup)
    gevent.signal_handler(signal.SIGUSR2, lambda: state["daemon"].reopen_logs())


def watch_orphans(ioloop: IOLoop, reaper: Callable[[], None]) -> None:
    """As PID 1 or a child subreaper, run ``reaper`` on the I/O thread whenever a SIGCHLD arrives.

    The kernel hands a process-wide signal to whichever thread does not block it, so waiting for the main
    thread to run a Python handler could leave zombies until the hub next woke. The C-level handler writes
    the signal number to the wakeup fd from any thread, and the I/O loop watches that fd.
    """
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    ioloop.watch_pipe(read_end, lambda _data: reaper(), lambda: None)


def write_pidfile(path: str) -> None:
    with open(path, "w") as fh:
        fh.write(f"{os.getpid()}\n")


def remove_pidfile(path: str) -> None:
    try:
        with open(path) as fh:
            if fh.read().strip() != str(os.getpid()):
                return
        os.unlink(path)
    except OSError:
        pass


def serve(
    config: Config,
    load: Callable[[], Config],
    listeners: Listeners,
    *,
    foreground: bool = True,
    ready: Callable[[], None] | None = None,
) -> int:
    """Run until told to shut down; SIGHUP/RPC restart re-reads the config and runs again (same pid)."""
    settings = config.supervisord
    limit_arenas()  # before any thread of ours allocates
    logger = mainlog.configure(settings, to_stdout=foreground and not settings.silent)
    for warning in config.warnings:
        logger.warning(warning)
    os.umask(settings.umask)
    stop_leftovers(settings.pidfile, logger)  # a crashed predecessor's children: never two copies
    for line in cgroups.clean_leftovers():  # and whatever escaped into its cgroups
        logger.warning("%s", line)
    bind_hub()
    # Actors hand work to each other across threads; with CPython's default 5 ms GIL switch interval a
    # thread woken by a message can wait that long behind a busy one (the hub parsing a request flood).
    sys.setswitchinterval(float(os.environ.get("SUPERVISORD_SWITCH_INTERVAL", "0.0005")))
    notifier = Notifier.from_environ()  # before any child copies the environment
    pids = ManagedPids()
    ioloop = IOLoop()
    if os.getpid() == 1 or become_subreaper():
        watch_orphans(ioloop, OrphanReaper(pids, logger, ioloop))
    ioloop.start()
    outlet.attach_stdio(ioloop)  # from here on, the loop drains what a slow stdout could not take
    try:
        write_pidfile(settings.pidfile)
    except OSError as exc:
        logger.critical("could not write pidfile %s: %s", settings.pidfile, exc)
    state: dict[str, Daemon] = {}
    died: list[str] = []
    _install_signals(state)
    # gevent's signal watchers do not keep the loop alive; without a ref'd watcher the hub would raise
    # LoopExit as soon as the main greenlet waits while no HTTP server is running.
    keepalive = gevent.get_hub().loop.async_()
    keepalive.start(lambda: None)
    # A dead actor or a failing I/O loop asks for an orderly shutdown from its own thread (faults.py).
    alarm = gevent.get_hub().loop.async_()
    alarm.start(lambda: state["daemon"].request(SHUTDOWN))
    faults.install(lambda _what: alarm.send())
    try:
        while True:
            daemon = Daemon(config, logger, load, listeners)
            state["daemon"] = daemon
            daemon.on_ready, ready = _ready_hook(ready, notifier), None  # -d's readiness: first run only
            daemon.on_stop = lambda mood: notifier.reloading() if mood == RESTART else notifier.stopping()
            mood = daemon.run(ioloop, pids)
            died = faults.deaths()
            if mood != RESTART or died:
                break
            try:
                new_config = load()
                rebind_listeners(listeners, config, new_config)
            except (ConfigError, ListenError) as exc:
                logger.error("could not reload config, keeping the old one: %s", exc)
                continue
            config = new_config
            logger = mainlog.configure(
                config.supervisord, to_stdout=foreground and not config.supervisord.silent
            )
    except Exception:
        logger.critical("the main loop died unexpectedly; shutting down", exc_info=True)
        raise
    finally:
        pykka.ActorRegistry.stop_all(block=True, timeout=10)
        for line in cgroups.close():
            logger.warning("%s", line)
        ioloop.stop()
        keepalive.close()
        faults.install(None)
        alarm.close()
        listeners.close()
        remove_pidfile(settings.pidfile)
    logger.info("supervisord stopped")
    logging.shutdown()
    outlet.flush_stdio(timeout=STDIO_FLUSH_TIMEOUT)
    return 1 if died else 0


def _ready_hook(detached: Callable[[], None] | None, notifier: Notifier) -> Callable[[], None]:
    """Tell ``-d``'s launching process (first run only) and systemd (every run, also after a reload)."""

    def ready() -> None:
        if detached is not None:
            detached()
        notifier.ready()

    return ready


def apply_overrides(config: Config, **overrides: Any) -> Config:
    """Command-line flags win over ``[supervisord]`` keys (None = not given)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return config
    return dataclasses.replace(config, supervisord=dataclasses.replace(config.supervisord, **given))


def fail(message: str, code: int = 2) -> int:
    print(f"Error: {message}", file=sys.stderr)
    print(f"For help, use {os.path.basename(sys.argv[0])} -h", file=sys.stderr)
    return code
