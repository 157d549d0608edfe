"""``[supervisord] config_watch = true``: apply config edits as ``supervisord ctl update`` does.

The :class:`~supervisord.actors.watcher.ConfigWatcher` actor notices the edit (debounced); the update runs
here, in a greenlet on the hub, because it waits for groups to stop, and the hub is where waiting on actors
is safe (hub-safe futures). It uses the same control service a client's ``update`` goes through, so the two
can never disagree: reread, then stop and remove the removed groups, stop/remove/add the changed ones, add the
new ones. A config that does not load changes nothing; the error (file and line) goes to the main log.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import gevent
import pykka

from supervisord import events, faults
from supervisord.actors.messages import Reread
from supervisord.actors.watcher import ConfigLoaded, ConfigWatcher
from supervisord.control import Control

if TYPE_CHECKING:
    from supervisord.config.model import Config
    from supervisord.daemon import Daemon


class ConfigWatch:
    """Created on the hub once the runtime runs; :meth:`stop` before the actors stop."""

    def __init__(self, daemon: Daemon) -> None:
        assert daemon.ctx is not None
        self.daemon = daemon
        self.control = Control(daemon)
        self.lock = threading.Lock()
        self.causes: list[str] = []
        self.applying = False
        self.config = daemon.config  # the config whose files are watched (the last one applied)
        self.wakeup = gevent.get_hub().loop.async_()  # the one thread-safe way into the hub
        self.wakeup.start(self._woken)
        self.actor = ConfigWatcher.start(daemon.config, daemon.ctx, self.notify)

    def stop(self) -> None:
        self.actor.stop(block=False)
        self.wakeup.close()

    def notify(self, cause: str) -> None:
        """Any thread: an edit settled."""
        with self.lock:
            self.causes.append(cause)
        self.wakeup.send()

    def _woken(self) -> None:
        if not self.applying:
            self.applying = True
            gevent.spawn(self._apply_pending)

    def _apply_pending(self) -> None:
        try:
            while True:
                with self.lock:
                    causes, self.causes = self.causes, []
                if not causes:
                    return
                self._apply("; ".join(dict.fromkeys(causes)))
        except Exception:
            self.daemon.logger.exception("config_watch: applying the edit failed")
        finally:
            self.applying = False

    def _apply(self, cause: str) -> None:
        control, logger = self.control, self.daemon.logger
        if control.stopping():
            return
        try:
            config: Config = control.offload(self.daemon.reload_config)
        except Exception as exc:  # ConfigError names file and line; anything else is as bad
            logger.error("config_watch: %s; not applied: %s", cause, exc)
            self._publish(events.watch_config("rejected", f"{cause}: {exc}", [], [], []))
            self._rewatch(self.config)
            return
        try:
            added, changed, removed = control.ask(control.supervisor, Reread(config))
            for name in removed:
                control.stop_many(control.in_order(name))
                control.remove_group(name)
            for name in changed:
                control.stop_many(control.in_order(name))
                control.remove_group(name)
                control.add_group(name)
            for name in added:
                control.add_group(name)
        except faults.Fault as exc:
            logger.error("config_watch: %s; update failed: %s", cause, exc.text)
            return
        finally:
            self._rewatch(config)
        if added or changed or removed:
            logger.info(
                "config_watch: %s; updated (added: %s; changed: %s; removed: %s)",
                cause,
                ", ".join(added) or "-",
                ", ".join(changed) or "-",
                ", ".join(removed) or "-",
            )
        else:
            logger.info("config_watch: %s; no process group changed", cause)
        self._publish(events.watch_config("update", cause, added, changed, removed))

    def _rewatch(self, config: Config) -> None:
        """Watch the files of the config in force (an include may have appeared, a symlink moved)."""
        self.config = config
        try:
            self.actor.tell(ConfigLoaded(config))
        except pykka.ActorDeadError:
            pass

    def _publish(self, event: events.Event) -> None:
        ctx = self.daemon.ctx
        bus = ctx.eventbus if ctx is not None else None
        if bus is not None:
            bus.tell(event)
