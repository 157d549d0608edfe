"""REST for the config centre: the program editor, the Nacos settings, and live apply of Nacos publishes.

Every write goes through :class:`~supervisord.configsource.ConfigSource` (validated by the loader, then
published to Nacos with a compare-and-set, or written to the local file atomically) and is then applied
with :meth:`Control.update`, exactly what ``supervisorctl update`` and ``POST /supervisor/reload`` do. An
edit must quote the ``md5`` of the config it was made on (``GET /api/config/programs`` gives it): if the
config changed meanwhile the answer is 409 and nothing is written.

The Nacos listener runs on its own thread; it wakes the hub through a ``loop.async_()`` watcher (the one
thread-safe way in) and the update runs in a greenlet, one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
import gevent.lock

from supervisord import faults
from supervisord.configsource import ConfigSource, Document, EditRefused, StaleEdit
from supervisord.nacos.errors import NacosError
from supervisord.nacos.settings import KEYS
from supervisord.programedit import NoSuchProgram, ProgramExists
from supervisord.web.routing import Request, Response, Routes, error_response, json_response

if TYPE_CHECKING:
    from supervisord.control import Changes, Control

_EDIT_BODY = {
    "schema": {
        "type": "object",
        "properties": {"text": {"type": "string"}, "md5": {"type": "string"}},
        "required": ["text", "md5"],
    },
    "example": {"text": "command = /bin/cat\nautostart = true\n", "md5": "MD5-FROM-GET"},
}
_NACOS_BODY = {
    "schema": {
        "type": "object",
        "properties": {
            "server": {"type": "string", "description": "IP:PORT[,IP:PORT…]; empty turns Nacos off"},
            "dataid": {"type": "string"},
            "namespace": {"type": "string"},
            "group": {"type": "string"},
            "username": {"type": "string"},
            "password": {"type": ["string", "null"], "description": "null or absent keeps the saved one"},
            "not_use_cache": {"type": "boolean"},
            "cache_dir": {"type": "string"},
        },
    },
    "example": {"server": "127.0.0.1:8848", "dataid": "supervisord.conf", "group": "DEFAULT_GROUP"},
}


class ConfigCentre:
    def __init__(self, control: Control) -> None:
        self.control = control
        daemon = control.daemon
        source = daemon.reload_config
        self.source: ConfigSource | None = source if isinstance(source, ConfigSource) else None
        self.applying = gevent.lock.Semaphore()
        if self.source is not None and self.source.nacos:
            watcher = gevent.get_hub().loop.async_()
            watcher.start(lambda: gevent.spawn(self._apply_published))
            send = watcher.send  # one bound method: detach compares it by identity
            self.source.attach(send)

            def detach() -> None:
                daemon.stop_event.wait()
                assert self.source is not None
                self.source.detach(send)
                watcher.close()

            gevent.spawn(detach)

    def _apply_published(self) -> None:
        """A valid new config was published in Nacos: apply it as ``update`` does."""
        log = self.control.daemon.logger
        try:
            changes = self._update()
        except faults.Fault as err:
            log.error("nacos: could not apply the published config: %s", err.text)
            return
        except Exception:  # a bug must reach the main log, not only gevent's stderr report
            log.exception("nacos: applying the published config failed")
            return
        added, changed, removed = changes.added, changes.changed, changes.removed
        log.info("nacos: applied: added %s, changed %s, removed %s", added, changed, removed)

    def _update(self) -> Changes:
        with self.applying:
            return self.control.update()

    # -- helpers --

    def _source(self) -> ConfigSource:
        if self.source is None:
            raise faults.Failed("this daemon was not started from a config source that can be edited")
        return self.source

    def _run(self, fn: Callable[[], Any]) -> Any:
        """Run blocking source work on the hub's thread pool, translating its errors."""
        try:
            return self.control.offload(fn)
        except StaleEdit as exc:
            raise _Reply(error_response(409, str(exc), "CONFLICT")) from None
        except NoSuchProgram as exc:
            raise _Reply(error_response(404, str(exc), "BAD_NAME")) from None
        except ProgramExists as exc:
            raise _Reply(error_response(409, str(exc), "ALREADY_ADDED")) from None
        except EditRefused as exc:
            raise _Reply(error_response(400, str(exc), "BAD_CONFIG")) from None
        except NacosError as exc:
            raise _Reply(error_response(503, f"nacos: {exc}", "NACOS_UNAVAILABLE")) from None
        except OSError as exc:
            raise _Reply(error_response(500, f"cannot read or write the config: {exc}", "FAILED")) from None

    def _edit(self, req: Request, change: Callable[[str], str], md5: object) -> Response:
        self.control.gate()
        if not isinstance(md5, str):
            raise faults.BadArguments("expected the md5 of the config the edit was made on")
        source = self._source()
        doc: Document = self._run(lambda: source.write(md5, change))
        try:
            changes = self._update()
        except faults.Fault as err:
            failed = {"success": False, "md5": doc.md5, "written": doc.name}
            return json_response({**failed, "error": err.text, "code": err.name}, 500)
        return json_response(
            {
                "success": True,
                "md5": doc.md5,
                "written": doc.name,
                "added": changes.added,
                "changed": changes.changed,
                "removed": changes.removed,
            }
        )

    # -- handlers --

    def get_config(self, req: Request) -> Response:
        source = self._source()
        doc: Document = self._run(source.document)
        return json_response({"source": doc.kind, "name": doc.name, "md5": doc.md5, "text": doc.text})

    def list_programs(self, req: Request) -> Response:
        from supervisord import programedit

        source = self._source()
        doc: Document = self._run(source.document)
        return json_response(
            {"source": doc.kind, "name": doc.name, "md5": doc.md5, "programs": programedit.programs(doc.text)}
        )

    def _body(self, req: Request) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict):
            raise faults.BadArguments("expected a JSON object")
        return body

    def add_program(self, req: Request) -> Response:
        from supervisord import programedit

        body = self._body(req)
        name, text = body.get("name"), body.get("text")
        if not isinstance(name, str) or not isinstance(text, str):
            raise faults.BadArguments('expected {"name": …, "text": …, "md5": …}')
        return self._edit(req, lambda old: programedit.add(old, name, text), body.get("md5"))

    def modify_program(self, req: Request) -> Response:
        from supervisord import programedit

        body = self._body(req)
        name, text = req.args["name"], body.get("text")
        if not isinstance(text, str):
            raise faults.BadArguments('expected {"text": …, "md5": …}')
        return self._edit(req, lambda old: programedit.modify(old, name, text), body.get("md5"))

    def delete_program(self, req: Request) -> Response:
        from supervisord import programedit

        name = req.args["name"]
        return self._edit(req, lambda old: programedit.delete(old, name), req.query.get("md5"))

    def copy_program(self, req: Request) -> Response:
        from supervisord import programedit

        body = self._body(req)
        name, new_name = req.args["name"], body.get("to")
        if not isinstance(new_name, str):
            raise faults.BadArguments('expected {"to": "new-name", "md5": …}')
        return self._edit(req, lambda old: programedit.copy(old, name, new_name), body.get("md5"))

    def get_nacos(self, req: Request) -> Response:
        source = self._source()
        saved = self._run(source.saved_nacos)
        return json_response(
            {
                "active": source.nacos,
                "running": source.settings.public() if source.nacos else None,
                "saved": saved,
                "bootstrap": source.path,
            }
        )

    def put_nacos(self, req: Request) -> Response:
        self.control.gate()
        body = self._body(req)
        unknown = sorted(set(body) - set(KEYS))
        if unknown:
            raise faults.BadArguments(f"unknown keys: {', '.join(unknown)}")
        for key, value in body.items():
            if value is not None and not isinstance(value, str | bool):
                raise faults.BadArguments(f"{key}: expected a string")
        source = self._source()
        path = self._run(lambda: source.save_nacos(body))
        return json_response(
            {
                "success": True,
                "saved_to": path,
                "applies": "from the next restart (a reread already reads it)",
            }
        )

    # -- the table --

    def routes(self, routes: Routes) -> None:
        add = routes.add
        write = ("POST", "PUT")
        wrap = _catching
        add(
            "GET",
            "/api/config",
            wrap(self.get_config),
            summary="The config as its source (Nacos or the local file) holds it now, with its md5",
        )
        add(
            "GET",
            "/api/config/programs",
            wrap(self.list_programs),
            summary="Every [program:x] section's text, and the md5 an edit must quote",
        )
        add(
            "POST",
            "/api/config/programs",
            wrap(self.add_program),
            summary="Add a program (validated, written to Nacos or the file, then applied as update)",
            body=True,
            request={
                "schema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "text": {"type": "string"},
                        "md5": {"type": "string"},
                    },
                    "required": ["name", "text", "md5"],
                },
                "example": {"name": "web", "text": "command = /bin/cat\n", "md5": "MD5-FROM-GET"},
            },
            changes=True,
        )
        add(
            "PUT",
            "/api/config/programs/<name>",
            wrap(self.modify_program),
            summary="Replace a program's section text, then apply as update",
            body=True,
            request=_EDIT_BODY,
            changes=True,
        )
        add(
            "DELETE",
            "/api/config/programs/<name>",
            wrap(self.delete_program),
            summary="Delete a program's section, then apply as update (it stops)",
            query=[("md5", "string", "the md5 of the config the deletion was decided on")],
            changes=True,
            destructive=True,
        )
        add(
            write,
            "/api/config/programs/<name>/copy",
            wrap(self.copy_program),
            summary="Copy a program's section under a new name, then apply as update",
            body=True,
            request={
                "schema": {
                    "type": "object",
                    "properties": {"to": {"type": "string"}, "md5": {"type": "string"}},
                    "required": ["to", "md5"],
                },
                "example": {"to": "web-2", "md5": "MD5-FROM-GET"},
            },
            changes=True,
        )
        add(
            "GET",
            "/api/nacos",
            wrap(self.get_nacos),
            summary="The Nacos settings running and those saved in the local bootstrap file (no password)",
        )
        add(
            write,
            "/api/nacos",
            wrap(self.put_nacos),
            summary="Save Nacos settings in the bootstrap file's [nacos] (used from the next restart)",
            body=True,
            request=_NACOS_BODY,
            changes=True,
        )


class _Reply(Exception):
    """A finished error response, raised out of a helper."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _catching(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    def run(req: Request) -> Response:
        try:
            return handler(req)
        except _Reply as reply:
            return reply.response

    return run
