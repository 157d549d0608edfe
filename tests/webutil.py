"""Helpers for the web surfaces' tests: a REST client with a base URL, and a Server-Sent Events reader."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

import requests


class Rest:
    """requests against one daemon; never follows redirects, always with a timeout."""

    def __init__(self, port: int, auth: tuple[str, str] | None = None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = requests.Session()
        self.session.auth = auth

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base + path, allow_redirects=False, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self("POST", path, **kwargs)


class SSE:
    """A Server-Sent Events stream read event by event (id, event, data), each read with a deadline."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.content_type = self.resp.getheader("Content-Type", "")

    def next(self, timeout: float = 10) -> dict[str, Any]:
        """The next event (comments and retry lines skipped)."""
        deadline = time.monotonic() + timeout
        event: dict[str, Any] = {}
        while True:
            assert self.conn.sock is not None
            self.conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                line = self.resp.fp.readline()
            except TimeoutError:
                raise AssertionError(f"no SSE event within {timeout}s") from None
            if not line:
                raise AssertionError("the SSE stream ended")
            text = line.decode().rstrip("\n")
            if not text:
                if "event" in event or "data" in event:
                    if "data" in event:
                        event["json"] = json.loads(event["data"])
                    return event
                continue
            if text.startswith(":"):
                continue
            key, _, value = text.partition(": ")
            if key in ("id", "event", "data", "retry"):
                event[key] = value

    def until(self, predicate: Any, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.1, deadline - time.monotonic()))
            if predicate(event):
                return event

    def close(self) -> None:
        self.conn.close()


def chromium(profile: Path, window: str = "1280,900") -> Any:
    """Headless Debian Chromium through chromedriver (selenium), with a fresh profile in ``profile``.

    The flags keep it off the network (this machine has none but loopback) and out of a sandbox it cannot
    have as root; the caller quits it.
    """
    import shutil

    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={window}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service)
