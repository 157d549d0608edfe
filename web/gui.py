"""The web GUI at ``/``: one server-rendered page (a Bottle template) plus plain JavaScript and CSS.

No CDN, no build step: the two static files ship in the package, are read once and served from memory by
name, so no request can reach any other file. The page renders the table once; from then on it changes only
through ``/events`` (SSE), starting from the event id it was rendered at, and acts through the REST API.
"""

from __future__ import annotations

import functools
import hashlib
import time
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from supervisord.control import SUPERVISOR_VERSION
from supervisord.web.routing import Request, Response, error_response

if TYPE_CHECKING:
    from supervisord.control import Control
    from supervisord.web.feed import EventFeed
    from supervisord.web.routing import Routes

HERE = Path(__file__).parent
# No framing by other sites (a framed GUI could be clicked into a shutdown), only our own script and style.
PAGE_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class _Static:
    def __init__(self, name: str) -> None:
        self.body = (HERE / "static" / name).read_bytes()
        self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'
        self.content_type = STATIC_TYPES[Path(name).suffix]


STATIC_FILES = ("app.js", "app.css", "fleet.js", "fleet.css", "editor.js")


@functools.cache
def assets() -> tuple[str, dict[str, _Static]]:
    """The page template and the static files, read once.

    Read before privileges are dropped (``daemonize.preload_runtime`` calls this): after the switch to
    ``user`` the installed package may be unreadable, and the GUI would answer 500.
    """
    return (HERE / "templates" / "index.tpl").read_text(), {name: _Static(name) for name in STATIC_FILES}


class Gui:
    def __init__(self, control: Control, feed: EventFeed) -> None:
        import bottle

        self.control = control
        self.feed = feed
        page, self.static = assets()
        self.template = bottle.SimpleTemplate(page)

    def routes(self, routes: Routes) -> None:
        text_html = "text/html; charset=utf-8"
        routes.add("GET", "/", self.index, summary="The web GUI", ok_type=text_html)
        routes.add(
            "GET",
            "/static/<file>",
            self.file,
            summary="The GUI's own script and style sheet",
            ok_type="text/javascript; charset=utf-8",
        )

    def index(self, req: Request) -> Response:
        last_id = self.feed.last_id  # before the snapshot: the page replays anything newer
        snaps = self.control.snapshots()
        node = self.control.node()
        now = time.time()
        groups = []
        from supervisord.web.rest import cgroup_usage

        cgroups = cgroup_usage(self.control, snaps)  # memory_max & co.: the memory shown in the row
        for group, members in groupby(snaps, key=lambda s: s.group):
            rows = []
            for snap in members:
                info = snap.info(now)
                info["spec"] = snap.namespec
                memory = cgroups.get(snap.namespec, {}).get("memory_bytes")
                info["memory"] = "" if memory is None else f"{memory / 1048576:.1f} MiB"
                rows.append(info)
            groups.append((group, rows))
        html = self.template.render(
            groups=groups,
            node=node,
            last_id=last_id,
            now=int(now),
            version=SUPERVISOR_VERSION,
            fleet=self._fleet_assets() if getattr(self.control.daemon, "fleet", None) is not None else "",
            assets=self.static["app.js"].etag.strip('"') + self.static["app.css"].etag.strip('"'),
        )
        return Response(
            200, html.encode(), "text/html; charset=utf-8", [("Cache-Control", "no-store"), *PAGE_HEADERS]
        )

    def _fleet_assets(self) -> str:
        """The fleet script and sheet's version (with a [fleet] section only; docs/fleet.md)."""
        return self.static["fleet.js"].etag.strip('"') + self.static["fleet.css"].etag.strip('"')

    def file(self, req: Request) -> Response:
        static = self.static.get(req.args["file"])
        if static is None:
            return error_response(404, "no such file", "NO_FILE")
        headers = [
            ("ETag", static.etag),
            ("Cache-Control", "max-age=3600"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if req.headers.get("if-none-match") == static.etag:
            return Response(304, b"", static.content_type, headers)
        return Response(200, static.body, static.content_type, headers)
