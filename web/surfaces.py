"""The surfaces over the control service (REST, SSE, metrics, the GUI), mounted in front of the Bottle app.

:class:`Live` is made when the app is built, before the supervisor actor exists, so the feed sees every state
event from the first one (restart counts, the SSE ring); the routes themselves, and Bottle's router they
use, are set up on the first request that needs them (see :class:`~supervisord.web.app.LazyApp`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gevent

from supervisord.actors.eventbus import Watch
from supervisord.control import Control
from supervisord.web.feed import EventFeed

if TYPE_CHECKING:
    from supervisord.daemon import Daemon
    from supervisord.web.configcentre import ConfigCentre

# Paths these surfaces own: an unknown route under them is a JSON 404, not Bottle's HTML one.
PREFIXES = ("/program", "/group", "/supervisor", "/api", "/events", "/metrics", "/static")


class Live:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.control = Control(daemon)
        self.feed = EventFeed(self.control)
        self.centre: ConfigCentre | None = None  # made with the other surfaces, unless Nacos needs it now
        if getattr(daemon.reload_config, "nacos", None):
            self.centre = self._centre()  # now, so a Nacos publish applies before any request
        bus = daemon.ctx.eventbus if daemon.ctx is not None else None
        if bus is not None:
            bus.tell(Watch(self.feed.offer))
        stop_event = daemon.stop_event

        daemon.on_fleet_change = lambda: self.feed.nudge("fleet")  # GUIs re-read the fleet when told

        def close_when_stopping() -> None:
            stop_event.wait()
            daemon.on_fleet_change = None
            self.feed.close()

        gevent.spawn(close_when_stopping)

    def mount(self, fallback: Any) -> Any:
        from supervisord.web.gui import Gui
        from supervisord.web.rest import TEXT_TYPE, RestAPI
        from supervisord.web.routing import Request, Response, RoutedApp, Routes

        routes = Routes()
        RestAPI(self.control, self.feed).routes(routes)
        scraper: list[Any] = []  # the Metrics, made at the first scrape

        def metrics(req: Request) -> Response:
            # prometheus-client (about 2 MB resident) is loaded only once somebody scrapes; a feed that
            # counted from the start supplies the counters, so nothing is missed before that
            if not scraper:
                from supervisord.web.metrics import Metrics

                scraper.append(Metrics(self.control, self.feed))
            response: Response = scraper[0].handle(req)
            return response

        routes.add("GET", "/metrics", metrics, summary="Prometheus metrics", ok_type=TEXT_TYPE)
        Gui(self.control, self.feed).routes(routes)
        if self.centre is None:
            self.centre = self._centre()
        self.centre.routes(routes)
        return RoutedApp(routes, fallback, PREFIXES, self.daemon.logger)

    def _centre(self) -> ConfigCentre:
        from supervisord.web.configcentre import ConfigCentre

        return ConfigCentre(self.control)
