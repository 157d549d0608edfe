"""Configuration changes: ``reread``, ``update``, ``add``, ``remove`` and ``avail``."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

from supervisord import namespec
from supervisord.ctlcommands.base import ControllerBase
from supervisord.ctlcommands.codes import (
    ALREADY_ADDED,
    BAD_NAME,
    CANT_REREAD,
    FAILED,
    GENERIC,
    STILL_RUNNING,
)

# reloadConfig's answer: the group names that were (added, changed, removed).
Changes = tuple[list[str], list[str], list[str]]


class ConfigCommands(ControllerBase):
    """Commands that compare the daemon's running groups with its config file and apply the difference."""

    def _reload_config(self, shutting_down: str) -> Changes | None:
        """``reloadConfig``'s changes, or None after reporting why the daemon could not reread."""
        try:
            result: list[Any] = self.supervisor.reloadConfig()
        except xmlrpc.client.Fault as exc:
            if exc.faultCode == CANT_REREAD:
                self.rc = GENERIC
                self.output(f"ERROR: {exc.faultString}")
                return None
            self.shutting_down(exc, shutting_down)
            return None
        added, changed, removed = result[0]
        return added, changed, removed

    def do_avail(self, args: list[str]) -> None:
        if not self.no_args("avail", args):
            return
        try:
            infos = self.supervisor.getAllConfigInfo()
        except xmlrpc.client.Fault as exc:
            self.shutting_down(exc)
            return
        for info in infos:
            spec = namespec.make(info["group"], info["name"])
            inuse = "in use" if info["inuse"] else "avail"
            auto = "auto" if info["autostart"] else "manual"
            self.output(f"{spec:<32} {inuse:<9} {auto:<9} {info['group_prio']}:{info['process_prio']}")

    def do_reread(self, args: list[str]) -> None:
        if not self.no_args("reread", args):
            return
        result = self._reload_config("ERROR: supervisor shutting down")
        if result is None:
            return
        added, changed, removed = result
        changes = {n: "available" for n in added} | {n: "changed" for n in changed}
        changes |= {n: "disappeared" for n in removed}
        for name in sorted(changes):
            self.output(f"{name}: {changes[name]}")
        if not changes:
            self.output("No config updates to processes")

    def do_add(self, args: list[str]) -> None:
        for name in args:
            try:
                self.supervisor.addProcessGroup(name)
            except xmlrpc.client.Fault as exc:
                if exc.faultCode == ALREADY_ADDED:
                    self.output("ERROR: process group already active")
                elif exc.faultCode == BAD_NAME:
                    self.output(f"ERROR: no such process/group: {name}")
                    self.rc = GENERIC
                else:
                    self.shutting_down(exc, "ERROR: shutting down")
                continue
            self.output(f"{name}: added process group")

    def do_remove(self, args: list[str]) -> None:
        for name in args:
            try:
                self.supervisor.removeProcessGroup(name)
            except xmlrpc.client.Fault as exc:
                self.rc = GENERIC
                if exc.faultCode == STILL_RUNNING:
                    self.output(f"ERROR: process/group still running: {name}")
                elif exc.faultCode == BAD_NAME:
                    self.output(f"ERROR: no such process/group: {name}")
                else:
                    raise
                continue
            self.output(f"{name}: removed process group")

    def do_update(self, args: list[str]) -> None:
        result = self._reload_config("ERROR: already shutting down")
        if result is None:
            return
        added, changed, removed = result
        s = self.supervisor
        wanted = set(args) - {"all"} if "all" not in args else set()
        if wanted:
            known = {info["group"] for info in s.getAllProcessInfo()} | set(added)
            for name in sorted(wanted - known):
                self.output(f"ERROR: no such group: {name}")
                self.rc = GENERIC

        def chosen(name: str) -> bool:
            return not wanted or name in wanted

        for name in filter(chosen, removed):
            results = s.stopProcessGroup(name)
            self.output(f"{name}: stopped")
            if any(r["status"] == FAILED for r in results):
                self.output(f"{name}: has problems; not removing")
                self.rc = GENERIC
                continue
            s.removeProcessGroup(name)
            self.output(f"{name}: removed process group")
        for name in filter(chosen, changed):
            s.stopProcessGroup(name)
            self.output(f"{name}: stopped")
            s.removeProcessGroup(name)
            s.addProcessGroup(name)
            self.output(f"{name}: updated process group")
        for name in filter(chosen, added):
            s.addProcessGroup(name)
            self.output(f"{name}: added process group")
