"""Watcher actors: notice that a program's binary, its watched files or the config changed.

A process actor starts one watcher per kind of watch its program asks for (``restart_when_binary_changed``,
``restart_directory_monitor``) and stops them when it stops, so a watch lives as long as the program, not
one spawn: ``update`` replaces it together with the process, removing the group removes it. Raw changes come
from the daemon's shared :class:`~supervisord.runtime.fswatch.WatchService`; a watcher debounces them (one
action per burst, once nothing changed for ``watch_debounce`` seconds) and then tells its process actor a
:class:`WatchFired`. The process actor decides what to do (:func:`choose_action`): a restart goes through
the state machine like any other, a signal or a command only while the child runs.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pykka

from supervisord.actors.messages import WatchFired
from supervisord.config.model import Config, ProcessConfig, WatchConfig
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.spawn import (
    SpawnError,
    child_environment,
    command_candidates,
    parse_command,
    start_side_command,
)

if TYPE_CHECKING:
    from supervisord.runtime.fswatch import Subscription, WatchService

MAX_HOLD = 10  # a burst that never settles still acts after this many debounce windows
KEPT_PATHS = 20  # changed paths remembered per burst, for the cause text

_service_lock = threading.Lock()


# --- the shared watch service of one runtime ---


def watch_service(ctx: RuntimeContext) -> WatchService:
    """The runtime's watch service, created on first use (a daemon without watches starts nothing)."""
    with _service_lock:
        service = ctx.fswatch
        if service is None:
            from supervisord.runtime.fswatch import WatchService

            settings = ctx.settings
            service = WatchService(
                ctx.logger, polling=settings.watch_polling, interval=settings.watch_poll_interval
            )
            ctx.fswatch = service
        return service


def close_watch_service(ctx: RuntimeContext) -> None:
    """At the end of a run: every kernel watch and the watch threads go, restart commands are ended."""
    with _service_lock:
        service, ctx.fswatch = ctx.fswatch, None
        commands, ctx.watch_commands = ctx.watch_commands, {}
    if service is not None:
        service.close()
    for popen in list(commands.values()):
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        ctx.pids.discard(popen.pid)


# --- debouncing, shared by every watcher ---


@dataclass(frozen=True)
class _Touched:
    path: str


@dataclass(frozen=True)
class _Settle:
    token: int


class _Debounced(HubSafeActor):
    """Collects raw changes and calls :meth:`settled` once per burst, after it has been quiet a window."""

    def __init__(self, ctx: RuntimeContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.window = ctx.settings.watch_debounce
        self.paths: list[str] = []
        self.first = self.last = 0.0
        self.timer: Any = None
        self.token = 0
        self.subs: list[Subscription] = []

    def on_stop(self) -> None:
        self._replace_subscriptions([])
        if self.timer is not None:
            self.timer.cancel()

    def on_failure(self, *args: object) -> None:
        self.on_stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Touched):
            self._touched(message.path)
        elif isinstance(message, _Settle):
            if message.token == self.token:
                self._check()
        else:
            return self.receive(message)
        return None

    def receive(self, message: Any) -> Any:
        return None

    def settled(self, paths: list[str]) -> None:
        raise NotImplementedError

    def _touched(self, path: str) -> None:
        now = time.monotonic()
        if not self.paths:
            self.first = now
        self.last = now
        if path not in self.paths and len(self.paths) < KEPT_PATHS:
            self.paths.append(path)
        if self.timer is None:
            self._arm(now + self.window)

    def _check(self) -> None:
        self.timer = None
        if not self.paths:
            return
        due = min(self.last + self.window, self.first + MAX_HOLD * max(self.window, 0.1))
        if time.monotonic() < due:
            self._arm(due)
            return
        paths, self.paths = self.paths, []
        self.settled(paths)

    def _arm(self, at: float) -> None:
        self.token += 1
        token, ref = self.token, self.actor_ref
        self.timer = self.ctx.ioloop.call_at(at, lambda: ref.tell(_Settle(token)))

    def _subscribe(
        self,
        directory: str,
        accept: Callable[[str], bool] | None = None,
        *,
        recursive: bool = False,
        names: frozenset[str] | None = None,
    ) -> Subscription:
        ref = self.actor_ref

        def on_change(path: str) -> None:  # on the watch thread: filter, then only tell
            if accept is None or accept(path):
                try:
                    ref.tell(_Touched(path))
                except pykka.ActorDeadError:
                    pass

        return watch_service(self.ctx).watch(directory, on_change, recursive=recursive, names=names)

    def _replace_subscriptions(self, subs: list[Subscription]) -> None:
        """New watches first, then the old ones go: a directory in both keeps its kernel watch."""
        old, self.subs = self.subs, subs
        for sub in old:
            sub.cancel()


def _places(paths: list[str]) -> dict[str, frozenset[str]]:
    """Directory -> entry names: where a change to any of ``paths`` shows up."""
    places: dict[str, set[str]] = {}
    for path in paths:
        places.setdefault(os.path.dirname(path), set()).add(os.path.basename(path))
    return {d: frozenset(n) for d, n in places.items()}


def follow_links(path: str, limit: int = 40) -> tuple[list[str], str]:
    """The symlinks met while resolving absolute ``path`` (each one's own path) and where it ends up.

    Every link on the way matters: retargeting ``/srv/app/current`` changes what ``/srv/app/current/web``
    runs without touching either file. A missing component ends the walk (the rest is appended as is).
    """
    links: list[str] = []
    parts = [p for p in path.split("/") if p]
    resolved = "/"
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            resolved = os.path.dirname(resolved)
            continue
        current = os.path.join(resolved, part)
        try:
            target = os.readlink(current)
        except OSError:  # not a link, or missing
            resolved = current
            continue
        links.append(current)
        if len(links) > limit:  # a loop: stop here, exec would fail with ELOOP anyway
            return links, os.path.join(current, *parts)
        if target.startswith("/"):
            resolved = "/"
        parts = [p for p in target.split("/") if p] + parts
    return links, resolved


# --- restart_when_binary_changed ---


@dataclass(frozen=True)
class Binary:
    """What the next spawn would run, and every place whose change could change that."""

    path: str | None  # argv[0] as the spawn resolves it (PATH, directory), None if not found
    real: str | None  # after symlinks
    key: tuple[Any, ...] | None  # identity and version of the file (None: not found)
    places: dict[str, frozenset[str]] = field(default_factory=dict)


def resolve_binary(config: ProcessConfig, environ: Mapping[str, str]) -> Binary:
    """Resolve argv[0] as :func:`~supervisord.runtime.spawn.resolve_command` does, through every symlink.

    PATH entries before the one that has the program are watched too (a program appearing there would be
    run instead); PATH directories that do not exist are not (they would need polling).
    """
    try:
        program = parse_command(config.command)[0]
    except SpawnError:
        return Binary(None, None, None)
    watched: list[str] = []
    for candidate in command_candidates(program, config, environ):
        candidate = os.path.abspath(candidate)
        if "/" not in program and not os.path.isdir(os.path.dirname(candidate)):
            continue
        links, real = follow_links(candidate)
        watched += [*links, real]
        try:
            st = os.stat(real)
        except OSError:
            continue
        key = (real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return Binary(candidate, real, key, _places(watched))
    return Binary(None, None, None, _places(watched))


class BinaryWatcher(_Debounced):
    """Watches the file the program's next spawn would run (``restart_when_binary_changed``)."""

    def __init__(self, config: ProcessConfig, ctx: RuntimeContext, process: Any) -> None:
        super().__init__(ctx)
        self.config = config
        self.process = process
        self.binary = Binary(None, None, None)

    def on_start(self) -> None:
        self.binary = self._resolve()
        self._watch(self.binary)
        if self.binary.path is None:
            self.ctx.logger.warning(
                "watching for the binary of %s: %r not found yet", self.config.namespec, self.config.command
            )
        else:
            self.ctx.logger.debug("watching binary %s of %s", self.binary.path, self.config.namespec)

    def _resolve(self) -> Binary:
        env = child_environment(self.config, self.ctx.base_environ, self.ctx.serverurl)
        return resolve_binary(self.config, env)

    def _watch(self, binary: Binary) -> None:
        self._replace_subscriptions(
            [self._subscribe(d, names=names) for d, names in sorted(binary.places.items())]
        )

    def settled(self, paths: list[str]) -> None:
        old, new = self.binary, self._resolve()
        self.binary = new
        if new.places != old.places:
            self._watch(new)
        if new.key == old.key:
            return
        name = self.config.namespec
        if new.key is None:
            self.ctx.logger.warning("binary %s of %s is gone; waiting for a new one", old.path, name)
            return
        cause = f"binary {new.path} changed"
        if old.real is not None and new.real != old.real:
            cause += f" (now {new.real})"
        _tell(self.process, WatchFired("binary", cause))


# --- restart_directory_monitor + restart_file_pattern ---


class DirectoryWatcher(_Debounced):
    """Watches a directory tree for files whose name matches ``restart_file_pattern``."""

    def __init__(self, config: ProcessConfig, ctx: RuntimeContext, process: Any) -> None:
        super().__init__(ctx)
        self.config = config
        self.process = process
        self.root = config.watch.restart_directory_monitor or "/"
        self.pattern = config.watch.restart_file_pattern

    def on_start(self) -> None:
        root, pattern = self.root, self.pattern

        def accept(path: str) -> bool:  # the file name only, not the path (unlike watchdog 7's patterns)
            return path == root or fnmatch.fnmatchcase(os.path.basename(path), pattern)

        if os.path.exists(root) and not os.path.isdir(root):  # a single file: watch it where it lives
            name = frozenset({os.path.basename(root)})
            self._replace_subscriptions([self._subscribe(os.path.dirname(root), names=name)])
        else:
            self._replace_subscriptions([self._subscribe(root, accept, recursive=True)])
        self.ctx.logger.debug("watching %s for %s of %s", root, pattern, self.config.namespec)

    def settled(self, paths: list[str]) -> None:
        if len(paths) == 1:
            what = "directory" if os.path.isdir(paths[0]) else "file"
            cause = f"{what} {paths[0]} changed"
        else:
            names = ", ".join(os.path.relpath(p, self.root) for p in paths[:3])
            more = ", …" if len(paths) > 3 else ""
            count = f"{len(paths)}{'+' if len(paths) >= KEPT_PATHS else ''}"
            cause = f"{count} files under {self.root} changed ({names}{more})"
        _tell(self.process, WatchFired("file", cause))


def _tell(ref: Any, message: Any) -> None:
    try:
        ref.tell(message)
    except pykka.ActorDeadError:  # the program is being removed: nothing left to act on
        pass


def start_watchers(config: ProcessConfig, ctx: RuntimeContext, process: Any) -> list[Any]:
    """The watcher actors ``config`` asks for (none for most programs)."""
    watch = config.watch
    refs: list[Any] = []
    if watch.restart_when_binary_changed:
        refs.append(BinaryWatcher.start(config, ctx, process))
    if watch.restart_directory_monitor:
        refs.append(DirectoryWatcher.start(config, ctx, process))
    return refs


# --- what the process actor does about it ---


@dataclass(frozen=True)
class WatchAction:
    """The reaction the config asks for: a command if set, else signals if set, else a restart."""

    kind: str  # "command", "signal" or "restart"
    command: str | None = None
    signals: tuple[int, ...] = ()

    def doing(self, namespec: str) -> str:
        """Log wording: ``restarting web``."""
        if self.kind == "command":
            return f"running {self.command!r} for {namespec}"
        if self.kind == "signal":
            return f"sending {self._names()} to {namespec}"
        return f"restarting {namespec}"

    def done(self) -> str:
        """Description wording: ``restarted``."""
        if self.kind == "command":
            return f"ran {self.command!r}"
        if self.kind == "signal":
            return f"sent {self._names()}"
        return "restarted"

    def _names(self) -> str:
        return " ".join(signal.Signals(s).name for s in self.signals)


def choose_action(watch: WatchConfig, kind: str) -> WatchAction:
    if kind == "binary":
        command, signals = watch.restart_cmd_when_binary_changed, watch.restart_signal_when_binary_changed
    else:
        command, signals = watch.restart_cmd_when_file_changed, watch.restart_signal_when_file_changed
    if command:
        return WatchAction("command", command=command)
    if signals:
        return WatchAction("signal", signals=signals)
    return WatchAction("restart")


def run_command(command: str, config: ProcessConfig, env: Mapping[str, str], ctx: RuntimeContext) -> None:
    """Start a ``restart_cmd_*`` (no shell; the program's user, directory and environment).

    Never waits: the I/O loop reaps it through its pidfd and its output goes to the main log.
    """
    name = config.namespec
    logger = ctx.logger
    try:
        popen = start_side_command(command, config, env, ctx.pids)
        pidfd = os.pidfd_open(popen.pid)
    except (SpawnError, OSError, subprocess.SubprocessError) as exc:
        logger.error("restart command %r for %s could not start: %s", command, name, exc)
        return
    assert popen.stdout is not None
    out_fd = os.dup(popen.stdout.fileno())
    popen.stdout.close()
    with _service_lock:
        ctx.watch_commands[popen.pid] = popen
    pid = popen.pid

    def on_output(data: bytes) -> None:
        for line in data.decode("utf-8", "replace").splitlines():
            logger.info("restart command for %s: %s", name, line)

    def on_exit() -> None:  # I/O thread; the pidfd says it exited, so this wait returns at once
        with _service_lock:
            ctx.watch_commands.pop(pid, None)
        try:
            status = popen.wait(1)
        except subprocess.TimeoutExpired:
            return
        ctx.pids.discard(pid)
        level = logging.INFO if status == 0 else logging.WARNING
        logger.log(level, "restart command %r for %s exited with status %d", command, name, status)

    ctx.ioloop.watch_pipe(out_fd, on_output, lambda: None)
    ctx.ioloop.watch_exit(pidfd, on_exit)


# --- [supervisord] config_watch ---


@dataclass(frozen=True)
class ConfigLoaded:
    """To the :class:`ConfigWatcher`: this config was applied; watch its files from now on."""

    config: Config


class ConfigWatcher(_Debounced):
    """Watches every loaded config file (through its symlinks) and the directories of the include globs.

    ``on_change(cause)`` is called (on a worker) once per settled burst; the daemon applies the edit.
    """

    def __init__(self, config: Config, ctx: RuntimeContext, on_change: Callable[[str], None]) -> None:
        super().__init__(ctx)
        self.config = config
        self.on_change = on_change

    def on_start(self) -> None:
        self._watch(self.config)

    def receive(self, message: Any) -> Any:
        if isinstance(message, ConfigLoaded):
            self.config = message.config
            self._watch(message.config)
        return None

    def _watch(self, config: Config) -> None:
        watched: list[str] = []
        files = (config.path, *config.included_files)
        for path in files:
            links, real = follow_links(path)
            watched += [*links, real]
        places = _places(watched)
        globs: dict[str, list[str]] = {}
        for pattern in config.include_patterns:
            directory = os.path.dirname(pattern)
            if any(c in directory for c in "*?["):
                self.ctx.logger.warning("config_watch: new files matching %s are not noticed", pattern)
                continue
            globs.setdefault(directory, []).append(pattern)
        subs = []
        for directory in sorted(set(places) | set(globs)):
            names = places.get(directory, frozenset())
            patterns = tuple(globs.get(directory, ()))
            if not patterns:
                subs.append(self._subscribe(directory, names=names))
                continue

            def accept(
                path: str,
                directory: str = directory,
                names: frozenset[str] = names,
                patterns: tuple[str, ...] = patterns,
            ) -> bool:  # a named file, a file matching a glob, or the directory itself (appeared)
                if path == directory or os.path.basename(path) in names:
                    return True
                return any(fnmatch.fnmatchcase(path, p) for p in patterns)

            subs.append(self._subscribe(directory, accept))
        self._replace_subscriptions(subs)
        logger = self.ctx.logger
        logger.debug("config_watch: watching %d files and %d include globs", len(files), len(globs))

    def settled(self, paths: list[str]) -> None:
        if len(paths) == 1:
            self.on_change(f"{paths[0]} changed")
        else:
            self.on_change(f"{len(paths)} config files changed ({', '.join(paths[:3])})")
