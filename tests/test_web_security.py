"""Security of every web surface and the OpenAPI walk (issue 11), against the real daemon with credentials.

The walk reads ``/api/openapi.json`` and calls every route it lists, so the document and the routes cannot
drift apart; the same list drives the 401 check, so a route added later is covered without editing here.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest
from harness import Daemon, wait_for
from rpcutil import free_port, proxy, wait_state
from webutil import Rest

AUTH = ("admin", "s3cret")
PROGRAMS = """\
[program:cat]
command = cat
startsecs = 0

[group:pair]
programs = one

[program:one]
command = sleep 1000
startsecs = 0
"""
FILL = {"name": "cat", "node": "supervisor", "group": "pair", "file": "app.js"}


def _start(tmp: Any, extra: str = "") -> tuple[Daemon, int]:
    port = free_port()
    section = f"[inet_http_server]\nport = 127.0.0.1:{port}\nusername = admin\npassword = s3cret\n{extra}"
    d = Daemon(tmp, PROGRAMS, supervisord=section).start()
    server = proxy(port, "admin:s3cret")
    wait_for(lambda: _answers(server), what="the daemon to answer")
    wait_state(server, "cat", "RUNNING")
    return d, port


def _answers(server: Any) -> bool:
    try:
        return bool(server.supervisor.getState())
    except (OSError, xmlrpc.client.ProtocolError):
        return False


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, int]]:
    d, port = _start(tmp_path_factory.mktemp("secured"))
    try:
        yield d, port
    finally:
        d.stop()


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            yield path, method.upper(), op


def _url(path: str, op: dict[str, Any]) -> str:
    for param in op["parameters"]:
        if param["in"] == "path":
            enum = param["schema"].get("enum")
            value = enum[0] if enum else FILL[param["name"]]
            path = path.replace("{" + param["name"] + "}", value)
    return path


def test_every_route_needs_credentials(secured: Any) -> None:
    _, port = secured
    rest, anon = Rest(port, AUTH), Rest(port)
    doc = rest.get("/api/openapi.json").json()
    checked = 0
    for path, method, op in _operations(doc):
        resp = anon(method, _url(path, op), stream=True)
        assert resp.status_code == 401, (method, path)
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="default"'
        if path.startswith(("/program/", "/group/", "/supervisor/", "/api/")):
            assert resp.json() == {"error": "credentials needed", "code": "UNAUTHORIZED"}
        resp.close()
        checked += 1
    assert checked >= 30
    for method, path in [
        ("POST", "/RPC2"),
        ("GET", "/logtail/cat"),
        ("GET", "/mainlogtail"),
        ("GET", "/nope"),
    ]:
        assert anon(method, path).status_code == 401, path
    assert Rest(port, ("admin", "wrong")).get("/program/list").status_code == 401
    assert rest.get("/metrics").status_code == 200


def test_openapi_walk(tmp_path: Any) -> None:
    """Call every documented route with credentials: each answers a documented status and content type."""
    d, port = _start(tmp_path)
    rest = Rest(port, AUTH)
    doc = rest.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    ops = sorted(_operations(doc), key=lambda o: bool(o[2].get("x-destructive")))
    called = []
    for path, method, op in ops:
        kwargs: dict[str, Any] = {}
        if "requestBody" in op:
            media, content = next(iter(op["requestBody"]["content"].items()))
            example = content["example"]
            if media == "application/json":
                kwargs["json"] = ["cat"] if example == ["NAME"] else example
            else:
                kwargs["data"] = example.encode()
                kwargs["headers"] = {"Content-Type": media}
        url = _url(path, op)
        if op.get("x-destructive") and any(p == "/supervisor/shutdown" for _, p in called):
            continue  # the other forms are the same handler; one shutdown is enough
        resp = rest(method, url, stream=True, **kwargs)
        assert str(resp.status_code) in op["responses"], (method, url, resp.status_code, resp.text[:200])
        if resp.status_code == 200:
            declared = next(iter(op["responses"]["200"]["content"]))
            assert resp.headers["Content-Type"].split(";")[0] == declared, (method, url)
            if declared == "application/json":
                resp.json()
        elif resp.headers.get("Content-Type", "").startswith("application/json"):
            assert resp.json()["code"], (method, url)
        resp.close()
        called.append((method, path))
    assert called[-1][1] == "/supervisor/shutdown"
    assert {p for _, p in called} | {"/supervisor/{node}/shutdown"} == set(doc["paths"])
    assert d.proc is not None
    d.proc.wait(30)  # the shutdown the walk called last
    d.stop()  # and nothing is left behind


def test_cross_site_requests_change_nothing(tmp_path: Any) -> None:
    d, port = _start(tmp_path)
    try:
        rest = Rest(port, AUTH)
        host = f"127.0.0.1:{port}"
        refused = [
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Origin": f"http://{host}.evil.example"},
        ]
        for headers in refused:
            resp = rest.post("/program/stop/cat", headers=headers)
            assert resp.status_code == 403, headers
            assert resp.json()["error"] == "cross-site request refused"
            body = xmlrpc.client.dumps(("cat",), "supervisor.stopProcess").encode()
            assert rest.post("/RPC2", data=body, headers=headers).status_code == 403
        assert rest.get("/program/info/cat").json()["statename"] == "RUNNING"
        # reads stay open to any page's links; same-origin and header-less requests act
        assert rest.get("/program/list", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
        assert rest.post("/program/stop/cat", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
        assert rest.post("/program/start/cat", headers={"Origin": f"http://{host}"}).status_code == 200
        assert rest.post("/program/stop/cat").status_code == 200
    finally:
        d.stop()


def test_no_other_files_and_bad_input(secured: Any) -> None:
    _, port = secured
    rest = Rest(port, AUTH)
    for path in (
        "/static/..%2fgui.py",
        "/static/../gui.py",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/index.tpl",
        "/log/cat/",
        "/conf/cat",
        "/program/log/cat/..%2f..%2fetc%2fpasswd",
    ):
        resp = rest.get(path)
        assert resp.status_code in (404, 400), path
        assert b"root:" not in resp.content and b"import" not in resp.content
    page = rest.get("/")
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert rest("PATCH", "/program/list").status_code == 405
    resp = rest.post("/program/startPrograms", data=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["code"] == "BAD_ARGUMENTS"
    assert "Traceback" not in resp.text
    assert rest.get("/program/list").status_code == 200  # still serving


def test_metrics_can_be_opened_to_scrapers(tmp_path: Any) -> None:
    d, port = _start(tmp_path, "metrics_auth = false\n")
    try:
        anon = Rest(port)
        resp = anon.get("/metrics")
        assert resp.status_code == 200 and b"node_supervisord_up" in resp.content
        assert anon.post("/metrics").status_code == 401  # only the GET is opened
        assert anon.get("/program/list").status_code == 401
        assert anon.get("/").status_code == 401
    finally:
        d.stop()
