"""Shared file-system watches for every watcher of the daemon: one inotify instance, one reader thread.

Why not watchdog's ``Observer``: it starts a thread per watched path (an emitter each), so a watch per
program would make 1,000 programs 1,000 threads. Every watch here goes through one watchdog ``InotifyFD``
(one inotify descriptor read by one thread), with one kernel watch per directory whatever the number of
subscribers: the kernel hands back the same watch descriptor for the same directory, and a directory node
here fans each event out to the subscriptions that care about that name.

Where inotify cannot be used (not available, ``max_user_instances`` or ``max_user_watches`` reached, or
``[supervisord] watch_polling = true``), the affected subscriptions are polled instead: one polling thread
compares watchdog ``DirectorySnapshot``s every interval. That thread, and its timer, exist only while
something is polled or waits for a missing directory to appear, so an idle daemon whose watches all use
inotify never wakes up.

Callbacks run on the reader or polling thread and must only hand work on (``actor_ref.tell``).
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watchdog.utils.dirsnapshot import DirectorySnapshot, DirectorySnapshotDiff

try:  # Linux only; elsewhere everything is polled
    from watchdog.observers.inotify_c import (
        CallbackId,
        InotifyConstants,
        InotifyEvent,
        InotifyFD,
        Mask,
        WatchDescriptor,
    )
except Exception:  # pragma: no cover - non-Linux libc
    InotifyFD = None  # type: ignore[assignment,misc]

OnChange = Callable[[str], None]

if InotifyFD is not None:
    C = InotifyConstants
    # One mask for every watch: inotify_add_watch on an already watched directory replaces its mask.
    # IN_CLOSE_WRITE rather than IN_MODIFY: one event per finished write, not one per write() call.
    MASK = Mask(
        C.IN_CREATE
        | C.IN_DELETE
        | C.IN_MOVED_FROM
        | C.IN_MOVED_TO
        | C.IN_CLOSE_WRITE
        | C.IN_DELETE_SELF
        | C.IN_MOVE_SELF
        | C.IN_ONLYDIR
    )


@dataclass(eq=False)
class Subscription:
    """Interest in one directory: every entry (``names`` None) or some names; optionally the whole tree."""

    service: WatchService
    directory: str
    on_change: OnChange
    recursive: bool = False
    names: frozenset[str] | None = None
    nodes: set[str] = field(default_factory=set)  # watched directories (inotify) this subscription uses
    polled: bool = False  # polled every interval instead of inotify
    pending: bool = False  # the directory is missing: checked every interval until it appears
    snapshot: Any = None  # polling: the last DirectorySnapshot, or {name: stat key} with ``names``

    def cancel(self) -> None:
        self.service.cancel(self)

    def wants(self, name: str) -> bool:
        return self.names is None or name in self.names


class _Node:
    """One watched directory: the inotify callback shared by every subscription that looks at it."""

    def __init__(self, service: WatchService, path: str) -> None:
        self.service = service
        self.path = path
        self.wd: WatchDescriptor | None = None
        self.subs: set[Subscription] = set()
        # By entry name, so an event in a busy directory (/usr/bin during an upgrade) reaches only the
        # subscriptions for that name, however many programs watch a binary there.
        self.named: dict[str, set[Subscription]] = {}
        self.unnamed: set[Subscription] = set()

    def add(self, sub: Subscription) -> None:
        self.subs.add(sub)
        if sub.names is None:
            self.unnamed.add(sub)
        else:
            for name in sub.names:
                self.named.setdefault(name, set()).add(sub)

    def discard(self, sub: Subscription) -> None:
        self.subs.discard(sub)
        self.unnamed.discard(sub)
        for name in sub.names or ():
            subs = self.named.get(name)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.named[name]

    def interested(self, name: str) -> list[Subscription]:
        return [*self.unnamed, *self.named.get(name, ())]

    def on_event(self, event: InotifyEvent) -> None:
        self.service._safely(self.service._on_event, self, event)

    def on_watch_deleted(self, wd: WatchDescriptor) -> None:
        self.service._safely(self.service._on_node_gone, self)

    def on_queue_overflow(self) -> None:
        self.service._safely(self.service._on_overflow, self)


class WatchService:
    """Subscribe to directories; changes arrive as full paths on ``on_change``."""

    def __init__(self, logger: logging.Logger, *, polling: bool = False, interval: float = 2.0) -> None:
        self.logger = logger
        self.interval = interval
        self.lock = threading.RLock()
        self.nodes: dict[str, _Node] = {}
        self.subs: set[Subscription] = set()
        self.inotify: Any = None
        self.closed = False
        self.limit_logged = False
        self._poll_wake = threading.Condition(self.lock)
        self._poller: threading.Thread | None = None
        if polling:
            logger.info("file watches: polling every %g s (watch_polling = true)", interval)
        elif InotifyFD is None:
            logger.warning("file watches: inotify is not available here; polling every %g s", interval)
        else:
            try:
                self.inotify = _Reader(self)
            except OSError as exc:
                logger.warning("file watches: inotify unavailable (%s); polling every %g s", exc, interval)
            else:
                self.inotify.start()

    # -- subscribing --

    def watch(
        self,
        directory: str,
        on_change: OnChange,
        *,
        recursive: bool = False,
        names: frozenset[str] | None = None,
    ) -> Subscription:
        """Report changes to entries of ``directory`` (named ``names``, or all; recursively if asked).

        A missing directory is fine: it is checked every interval, and its appearance is a change.
        """
        sub = Subscription(self, os.path.normpath(directory), on_change, recursive, names)
        with self.lock:
            if self.closed:
                return sub
            self.subs.add(sub)
            self._establish(sub, report=False)
        return sub

    def cancel(self, sub: Subscription) -> None:
        with self.lock:
            self.subs.discard(sub)
            self._release_nodes(sub, set(sub.nodes))
            sub.polled = sub.pending = False

    def watched_directories(self) -> int:
        """How many kernel watches are in use (one per directory, however many subscribers)."""
        with self.lock:
            return len(self.nodes)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.subs.clear()
            self.nodes.clear()
            self._poll_wake.notify_all()
        if self.inotify is not None:
            self.inotify.stop()  # removes every kernel watch and wakes the reader
            self.inotify.join(timeout=5)
        if self._poller is not None:
            self._poller.join(timeout=5)

    # -- inotify bookkeeping (under ``lock``) --

    def _establish(self, sub: Subscription, *, report: bool) -> None:
        """Watch ``sub``'s directory (and tree) through inotify, else poll it, else wait for it to exist."""
        sub.pending = sub.polled = False
        if not os.path.isdir(sub.directory):
            sub.pending = True
            self._wake_poller()
            return
        if self.inotify is None or not self._attach_tree(sub):
            self._start_polling(sub)
        if report:
            self._call(sub, sub.directory)

    def _attach_tree(self, sub: Subscription) -> bool:
        """Kernel watches for the directory (and every directory below it); False if the root failed."""
        if not self._attach(sub, sub.directory):
            return False
        if sub.recursive:
            for path in _subdirectories(sub.directory):
                self._attach(sub, path)  # a subdirectory that cannot be watched is skipped, as watchdog does
        return True

    def _attach(self, sub: Subscription, path: str) -> bool:
        node = self.nodes.get(path)
        if node is None:
            node = _Node(self, path)
            try:
                wd = self.inotify.add_callback(os.fsencode(path), MASK, node, CallbackId(id(node)))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EMFILE) and not self.limit_logged:
                    self.limit_logged = True
                    self.logger.warning(
                        "file watches: %s (see fs.inotify.max_user_watches); polling what does not fit", exc
                    )
                return False
            if wd < 0:  # watchdog leaves EACCES silent: no watch was made
                self.inotify.remove_callbacks([(wd, CallbackId(id(node)))])
                return False
            node.wd = wd
            self.nodes[path] = node
        node.add(sub)
        sub.nodes.add(path)
        return True

    def _release_nodes(self, sub: Subscription, paths: set[str]) -> None:
        for path in paths:
            sub.nodes.discard(path)
            node = self.nodes.get(path)
            if node is None:
                continue
            node.discard(sub)
            if not node.subs:
                del self.nodes[path]
                if node.wd is not None and self.inotify is not None:
                    self.inotify.remove_callbacks([(node.wd, CallbackId(id(node)))])

    def _on_event(self, node: _Node, event: InotifyEvent) -> None:
        calls: list[tuple[Subscription, str]] = []
        with self.lock:
            if self.nodes.get(node.path) is not node:
                return
            if not event.name:  # the directory itself moved or was deleted
                if event.is_move_self or event.is_delete_self:
                    self._lose(node)
                return
            name = os.fsdecode(event.name)
            path = os.path.join(node.path, name)
            for sub in node.interested(name):
                if event.is_directory and sub.recursive:
                    if event.is_create or event.is_moved_to:
                        for found in self._grow(sub, path):
                            calls.append((sub, found))
                        continue
                    if event.is_delete or event.is_moved_from:
                        prefix = path + os.sep
                        self._release_nodes(sub, {p for p in sub.nodes if p == path or p.startswith(prefix)})
                if sub.wants(name):
                    calls.append((sub, path))
        for sub, changed in calls:
            self._call(sub, changed)

    def _grow(self, sub: Subscription, path: str) -> list[str]:
        """A directory appeared inside a recursive watch: watch its tree, report the files already in it."""
        found: list[str] = []
        for current in [path, *_subdirectories(path)]:
            self._attach(sub, current)
            try:
                entries = list(os.scandir(current))
            except OSError:
                continue
            found += [e.path for e in entries if not e.is_dir(follow_symlinks=False) and sub.wants(e.name)]
        return found

    def _on_node_gone(self, node: _Node) -> None:
        with self.lock:
            if self.nodes.get(node.path) is node:
                node.wd = None  # the kernel already dropped it
                self._lose(node)

    def _lose(self, node: _Node) -> None:
        """A watched directory went away (deleted or moved): roots wait for it to come back."""
        for sub in list(node.subs):
            if sub.directory == node.path:
                self._release_nodes(sub, set(sub.nodes))
                sub.pending = True
                self._call(sub, node.path)
            else:
                prefix = node.path + os.sep
                self._release_nodes(sub, {p for p in sub.nodes if p == node.path or p.startswith(prefix)})
        self._wake_poller()

    def _on_overflow(self, node: _Node) -> None:
        """Events were lost: every subscription may have missed a change, so each one gets one."""
        with self.lock:
            subs = list(node.subs)
        for sub in subs:
            self._call(sub, sub.directory)

    def _reader_failed(self) -> None:
        """The inotify reader thread hit an error it cannot go on from: poll everything from now on."""
        self.logger.exception("file watches: the inotify reader failed; polling every %g s", self.interval)
        with self.lock:
            if self.closed:
                return
            self.inotify = None
            self.nodes.clear()
            for sub in self.subs:
                sub.nodes.clear()
                self._establish(sub, report=False)

    # -- polling (one thread, only while something is polled or pending) --

    def _start_polling(self, sub: Subscription) -> None:
        sub.polled = True
        sub.snapshot = self._take(sub)
        self._wake_poller()

    def _wake_poller(self) -> None:
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_loop, name="watch-poller", daemon=True)
            self._poller.start()
        self._poll_wake.notify_all()

    def _poll_loop(self) -> None:
        try:
            self._polling()
        except Exception:  # never silently: the watches it served stop working
            self.logger.exception("file watches: the polling thread failed")

    def _polling(self) -> None:
        while True:
            with self.lock:
                while not self.closed and not any(s.polled or s.pending for s in self.subs):
                    self._poll_wake.wait()  # nothing to poll: no timer at all
                if self.closed:
                    return
                self._poll_wake.wait(self.interval)
                if self.closed:
                    return
                due = [s for s in self.subs if s.polled or s.pending]
            for sub in due:
                self._safely(self._poll_one, sub)

    def _poll_one(self, sub: Subscription) -> None:
        if sub.pending:
            if os.path.isdir(sub.directory):
                with self.lock:
                    if sub in self.subs and sub.pending:
                        self._establish(sub, report=True)
            return
        new = self._take(sub)
        changed = self._diff(sub, sub.snapshot, new)
        sub.snapshot = new
        if new is None:
            with self.lock:
                if sub in self.subs:
                    sub.polled, sub.pending = False, True
        for path in changed:
            self._call(sub, path)

    @staticmethod
    def _take(sub: Subscription) -> Any:
        if sub.names is not None:
            keys: dict[str, tuple[int, ...] | None] = {}
            for name in sub.names:
                try:
                    st = os.lstat(os.path.join(sub.directory, name))
                    keys[name] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                except OSError:
                    keys[name] = None
            return keys if os.path.isdir(sub.directory) else None
        try:
            return DirectorySnapshot(sub.directory, recursive=sub.recursive)
        except OSError:
            return None

    @staticmethod
    def _diff(sub: Subscription, old: Any, new: Any) -> list[str]:
        if old is None or new is None:
            return [sub.directory] if old is not new else []
        if sub.names is not None:
            return [os.path.join(sub.directory, n) for n in sorted(sub.names) if old.get(n) != new.get(n)]
        diff = DirectorySnapshotDiff(old, new)
        paths = [*diff.files_created, *diff.files_deleted, *diff.files_modified]
        for src, dst in diff.files_moved:
            paths += [src, dst]
        return [os.fsdecode(p) for p in paths if sub.wants(os.path.basename(os.fsdecode(p)))]

    # -- delivery --

    def _call(self, sub: Subscription, path: str) -> None:
        if sub in self.subs:
            self._safely(sub.on_change, path)

    def _safely(self, fn: Callable[..., None], *args: Any) -> None:
        """Never let a callback's error kill the shared reader or poller thread (and say so)."""
        try:
            fn(*args)
        except Exception:
            self.logger.exception("file watch callback failed")


if InotifyFD is not None:

    class _Reader(InotifyFD):
        """watchdog's reader thread, which tells the service instead of dying silently."""

        def __init__(self, service: WatchService) -> None:
            super().__init__()
            self.service = service
            self.name = "inotify-reader"

        def run(self) -> None:
            try:
                super().run()
            except Exception:
                if not self.should_keep_running():
                    return
                self.service._reader_failed()
                reading = self._is_reading  # close() leaves the descriptors to a reader that is mid-read
                self.close()
                if reading:
                    self._close_resources()


def _subdirectories(root: str) -> list[str]:
    """Every directory below ``root`` (not following symlinks, as inotify would not either)."""
    found: list[str] = []
    for current, dirs, _ in os.walk(root, followlinks=False):
        found += [p for p in (os.path.join(current, d) for d in dirs) if not os.path.islink(p)]
    return found
