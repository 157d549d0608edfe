"""Where the daemon's config comes from, read again on every reread, update and restart.

:class:`ConfigSource` *is* the ``load`` callable the daemon keeps (``Daemon.reload_config``): XML-RPC's
``reloadConfig``, REST's reload, SIGHUP and the Nacos listener all reach the config through it, so all of
them see the same thing. It reads the local file, unless Nacos settings are given (flags, environment or the
file's ``[nacos]`` section, see :mod:`supervisord.nacos.settings`), in which case it reads the config from
Nacos, keeps the last good one in the local cache and, once the daemon serves, long-polls Nacos and asks for
an ``update`` whenever a valid new config is published. A config that does not load is never used, never
cached and changes nothing: the error names ``nacos:<dataId>:LINE``.

It also writes: the program editor's changes (to Nacos with a compare-and-set on the MD5 the editor read,
or to the local file atomically with a ``.bak``) and the GUI's ``[nacos]`` settings (to the local file).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from supervisord import atomicfile
from supervisord.config import textedit
from supervisord.config.errors import ConfigError
from supervisord.config.ini import parse_ini, read_ini
from supervisord.config.loader import load_config, load_config_text
from supervisord.config.model import Config
from supervisord.mainlog import LOGGER_NAME
from supervisord.nacos import cache
from supervisord.nacos.errors import NacosConflict, NacosError, NacosNotFound
from supervisord.nacos.settings import NacosSettings, md5_hex, resolve, section_body

if TYPE_CHECKING:
    from supervisord.nacos.client import NacosClient

RETRY_MAX = 30.0  # seconds between attempts to listen while Nacos is away


class StaleEdit(Exception):
    """The config changed since the editor read it (its MD5 differs): nothing was written."""


class EditRefused(Exception):
    """The edit is not acceptable (bad input, or the resulting config does not load): nothing was written."""


@dataclass(frozen=True)
class Document:
    """The config text as it is now at its source, and the MD5 an edit must quote to replace it."""

    kind: str  # "nacos" or "file"
    name: str  # nacos:<dataId> or the file's path
    text: str
    md5: str


class ConfigSource:
    def __init__(
        self,
        path: str | None,
        flags: Mapping[str, str | None],
        overrides: Mapping[str, object] | None = None,
    ) -> None:
        self.path = path
        self.flags = dict(flags)
        self.overrides = dict(overrides or {})
        self.logger = logging.getLogger(LOGGER_NAME)
        self._lock = threading.RLock()  # one load or edit at a time
        self.settings = NacosSettings()
        self.client: NacosClient | None = None
        self.text: str | None = None  # the Nacos config the daemon runs
        self.md5 = ""
        self.seen_md5 = ""  # the newest MD5 seen in Nacos, applied or rejected: what the listener quotes
        self.own_md5 = ""  # the MD5 of our own last publish: the editor applies it, not the listener
        self.loaded = False
        self.on_change: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- reading --

    def resolve(self) -> NacosSettings:
        section = None
        if self.path is not None and os.path.exists(self.path):
            section = read_ini(self.path).get("nacos")
        return resolve(self.flags, os.environ, section)

    def __call__(self) -> Config:
        from supervisord.daemon import apply_overrides

        with self._lock:
            settings = self.resolve()
            warnings: list[str] = []
            if settings.enabled:
                config = self._load_nacos(settings, warnings)
            else:
                self._forget_nacos()
                if self.path is None:
                    raise ConfigError("no config file, and no Nacos server and dataId to read one from")
                from supervisord.fleet.shared import SHARED

                config = load_config(self.path, shared=SHARED.get())  # the fleet's shared programs, if any
            if warnings and self.loaded:
                for warning in warnings:
                    self.logger.warning(warning)
            elif warnings:
                config = dataclasses.replace(config, warnings=(*warnings, *config.warnings))
            self.loaded = True
        return apply_overrides(config, **self.overrides)

    @property
    def nacos(self) -> bool:
        return self.settings.enabled and self.client is not None

    def _load_nacos(self, settings: NacosSettings, warnings: list[str]) -> Config:
        if settings != self.settings or self.client is None:
            self._forget_nacos()
            self.settings, self.client = settings, self._new_client(settings)
        client = self.client
        try:
            # At start-up with a cache to fall back on, one round over the servers is enough.
            text, md5 = client.get(rounds=1 if self.text is None and settings.use_cache else None)
        except NacosError as exc:
            return self._without_nacos(settings, str(exc), warnings)
        self.seen_md5 = md5
        config = load_config_text(text, settings.name)  # a ConfigError here changes nothing
        self.text, self.md5 = text, md5
        if settings.use_cache:
            try:
                cache.save(settings, text, md5)
            except OSError as exc:
                warnings.append(f"nacos: could not write the config cache in {settings.cache_dir}: {exc}")
        return config

    def _without_nacos(self, settings: NacosSettings, reason: str, warnings: list[str]) -> Config:
        if self.text is not None:
            warnings.append(f"nacos: {reason}; keeping the config already running")
            return load_config_text(self.text, settings.name)
        if not settings.use_cache:
            raise ConfigError(
                f"cannot read the config from Nacos ({reason}); the local cache is off "
                "(--nacos-not-use-cache), so there is nothing to start from"
            )
        try:
            cached = cache.load(settings)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the config from Nacos ({reason}) and there is no usable local cache ({exc})"
            ) from None
        config = load_config_text(cached.content, settings.name)
        saved = datetime.datetime.fromtimestamp(cached.saved).strftime("%Y-%m-%d %H:%M:%S")
        warnings.append(
            f"nacos: {reason}; starting from the cached config saved {saved} "
            f"({cached.path}, md5 {cached.md5})"
        )
        self.text, self.md5, self.seen_md5 = cached.content, cached.md5, cached.md5
        return config

    def _new_client(self, settings: NacosSettings) -> NacosClient:
        from supervisord.nacos.client import NacosClient  # requests is loaded only when Nacos is used

        return NacosClient(settings, self.logger)

    def _forget_nacos(self) -> None:
        self._stop.set()
        self._stop = threading.Event()
        self._watcher = None
        self.settings, self.client = NacosSettings(), None
        self.text, self.md5, self.seen_md5 = None, "", ""

    # -- listening --

    def attach(self, on_change: Callable[[], None] | None) -> None:
        """Called by the serving process: from now on a valid publish in Nacos calls ``on_change``.

        The listener thread starts here, not at load time, because ``-d`` forks after loading.
        """
        with self._lock:
            self.on_change = on_change
            if on_change is None or not self.nacos or self._watcher is not None:
                return
            self.client = self._new_client(self.settings)  # no session shared with a parent
            self._watcher = threading.Thread(
                target=self._watch, args=(self.client, self._stop), name="nacos-listener", daemon=True
            )
            self._watcher.start()

    def detach(self, on_change: Callable[[], None]) -> None:
        """Forget ``on_change`` unless a later run has attached its own already (a restart)."""
        with self._lock:
            if self.on_change is on_change:
                self.on_change = None

    def close(self) -> None:
        self._stop.set()

    def _watch(self, client: NacosClient, stop: threading.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            try:
                changed = client.listen(self.seen_md5)
                if changed and not stop.is_set():
                    self._changed(client, stop)
                delay = 1.0
            except NacosError as exc:
                self.logger.warning("nacos: listening for changes failed: %s; again in %.0fs", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
            except Exception:  # a bug must be seen, and must not end the listening
                self.logger.exception("nacos: the listener failed")
                stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _changed(self, client: NacosClient, stop: threading.Event) -> None:
        try:
            text, md5 = client.get()
        except NacosNotFound as exc:
            self.logger.error("nacos: %s; keeping the config already running", exc)
            stop.wait(RETRY_MAX)  # until it is published again; the listener would answer at once
            return
        if md5 in (self.md5, self.own_md5):
            self.seen_md5 = md5
            return
        try:
            load_config_text(text, self.settings.name)
        except ConfigError as exc:
            self.seen_md5 = md5
            self.logger.error("nacos: rejected the config published (md5 %s), nothing changed: %s", md5, exc)
            return
        callback = self.on_change
        if callback is None:
            stop.wait(0.5)  # not serving yet: ask again, the change is not lost
            return
        self.logger.info("nacos: a new config was published (md5 %s); applying it", md5)
        self.seen_md5 = md5
        callback()

    # -- writing --

    def document(self) -> Document:
        """The config as its source holds it now (fresh from Nacos, or read from the file)."""
        with self._lock:
            if self.nacos:
                assert self.client is not None
                try:
                    text, md5 = self.client.get()
                except NacosNotFound:
                    text, md5 = "", ""
                return Document("nacos", self.settings.name, text, md5)
            if self.path is None:
                raise EditRefused("there is no local config file to edit")
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
            return Document("file", self.path, text, md5_hex(text))

    def write(self, md5: str, change: Callable[[str], str]) -> Document:
        """Apply ``change`` to the current text if its MD5 is still ``md5``; validate, then write it.

        Nacos: published with ``casMd5``, so an editor elsewhere that published meanwhile makes this fail
        rather than be overwritten. File: written beside the original, loaded from there (its includes and
        ``%(here)s`` mean the same), then renamed over it, the old version kept as ``<file>.bak``.
        """
        with self._lock:
            doc = self.document()
            if md5 != doc.md5:
                raise StaleEdit(f"{doc.name} changed since it was read (md5 {doc.md5}, expected {md5})")
            text = change(doc.text)
            if doc.kind == "nacos":
                assert self.client is not None
                try:
                    load_config_text(text, doc.name)
                except ConfigError as exc:
                    raise EditRefused(str(exc)) from None
                self.own_md5 = md5_hex(text)  # before: the listener may hear of it before publish returns
                try:
                    new_md5 = self.client.publish(text, cas_md5=doc.md5 or None)
                except NacosConflict as exc:
                    raise StaleEdit(str(exc)) from None
                self.logger.info("nacos: published %s (md5 %s)", doc.name, new_md5)
                return Document("nacos", doc.name, text, new_md5)
            temp = atomicfile.temp_beside(doc.name, text)
            try:
                load_config(temp)
            except BaseException as exc:
                os.unlink(temp)
                if isinstance(exc, ConfigError):
                    raise EditRefused(str(exc).replace(temp, doc.name)) from None
                raise
            atomicfile.commit(temp, doc.name, backup=True)
            self.logger.info("wrote %s (previous version in %s.bak)", doc.name, doc.name)
            return Document("file", doc.name, text, md5_hex(text))

    def saved_nacos(self) -> dict[str, object] | None:
        """The ``[nacos]`` section of the bootstrap file as the GUI shows it (None: there is none)."""
        if self.path is None or not os.path.exists(self.path):
            return None
        section = read_ini(self.path).get("nacos")
        if section is None:
            return None
        try:
            return resolve({}, {}, section).public()
        except ConfigError as exc:
            return {"error": str(exc)}

    def save_nacos(self, values: Mapping[str, object]) -> str:
        """Write ``[nacos]`` into the local config file (the bootstrap); used from the next restart on.

        A missing ``password`` keeps the one saved before. Returns the file written.
        """
        with self._lock:
            if self.path is None or not os.path.exists(self.path):
                raise EditRefused("there is no local config file to save the Nacos settings in")
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
            found = textedit.find(text, "nacos")
            merged = dict(values)
            if merged.get("password") is None:
                old = read_ini(self.path).get("nacos")
                kept = old.get("password") if old is not None else None
                merged["password"] = kept.value if kept is not None else ""
            try:
                body = section_body(merged)
                new = text
                for block in reversed(found[1:]):  # later duplicates first: earlier lines keep their place
                    new = textedit.remove(new, block)
                if found:
                    new = textedit.replace(new, found[0], "nacos", body)
                else:
                    new = textedit.append(text, "nacos", body)
                resolve({}, {}, parse_ini(new, self.path).get("nacos"))
            except (ValueError, ConfigError) as exc:
                raise EditRefused(str(exc)) from None
            atomicfile.write_atomic(self.path, new, backup=True)
            self.logger.info("saved the Nacos settings in %s; they apply from the next restart", self.path)
            return self.path
