"""Nacos as the config centre (issue 15), against tests/fakenacos.py (a fake of Nacos's HTTP Open API v1).

The client in-process (login and token renewal, 404, compare-and-set, the long poll, failover and outages),
then the real daemon: started from Nacos, from the cache while Nacos is down, refusing to start without the
cache; a publish applied live, a broken one refused; the program editor over REST on Nacos and on the
local file, two concurrent edits; the Nacos settings saved from the API and used after a restart.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakenacos import FakeNacos, md5
from harness import Daemon, wait_for
from rpcutil import free_port, inet_section
from webutil import Rest

from supervisord.config.errors import ConfigError
from supervisord.nacos.client import (
    NacosClient,
    NacosConflict,
    NacosDenied,
    NacosNotFound,
    NacosUnavailable,
)
from supervisord.nacos.settings import resolve

DATA_ID = "supervisord.conf"
PROGRAMS = """\
[program:alpha]
command = sleep 1000
startsecs = 0

[program:beta]
command = sleep 1000
startsecs = 0
"""


@pytest.fixture
def fake() -> Iterator[FakeNacos]:
    server = FakeNacos(users={"nacos": "s3cret"}).start()
    try:
        yield server
    finally:
        server.stop()


def client_for(fake: FakeNacos, **flags: str) -> NacosClient:
    given = {"server": fake.address, "dataid": DATA_ID, "username": "nacos", "password": "s3cret", **flags}
    return NacosClient(resolve(given, {}, None), logging.getLogger("test.nacos"), backoff=0.01)


# -- the client --


def test_client_speaks_the_open_api(fake: FakeNacos) -> None:
    client = client_for(fake, namespace="dev", group="OPS")
    with pytest.raises(NacosNotFound):
        client.get()
    first = client.publish("[supervisord]\n")
    assert fake.content(DATA_ID, "OPS", "dev") == "[supervisord]\n"
    assert fake.content(DATA_ID) is None  # the namespace and group are kept apart
    assert client.get() == ("[supervisord]\n", first)
    with pytest.raises(NacosConflict):
        client.publish("other\n", cas_md5=md5("not what is stored"))
    assert fake.content(DATA_ID, "OPS", "dev") == "[supervisord]\n"
    second = client.publish("[supervisord]\n;2\n", cas_md5=first)
    assert client.get()[1] == second
    client.delete()
    with pytest.raises(NacosNotFound):
        client.get()
    assert fake.logins == 1  # one token served every call


def test_token_renewed_and_refused_tokens_log_in_again(fake: FakeNacos) -> None:
    fake.token_ttl = 1.0
    client = client_for(fake)
    fake.publish(DATA_ID, "x\n")
    client.get()
    wait_for(lambda: client._token_renew_at <= time.monotonic(), timeout=5, what="renewal time")
    client.get()  # renewed before it expired: no 403 seen
    assert fake.logins == 2 and fake.count("GET", "/nacos/v1/cs/configs", 403) == 0
    fake.token_ttl = 18000
    fake.expire_tokens()  # the server forgets them early: a 403, then a fresh login
    assert client.get()[0] == "x\n"
    assert fake.count("GET", "/nacos/v1/cs/configs", 403) == 1 and fake.logins == 3
    with pytest.raises(NacosDenied):
        client_for(fake, password="wrong").get()


def test_long_poll_holds_then_answers_changed(fake: FakeNacos) -> None:
    client = client_for(fake, namespace="public")
    fake.publish(DATA_ID, "one\n")
    assert client.listen(md5("one\n"), hold_ms=200) is False  # held, then nothing changed
    assert client.listen(md5("old\n"), hold_ms=200) is True  # differs at once
    timer = threading.Timer(0.2, fake.publish, (DATA_ID, "two\n"))
    timer.start()
    assert client.listen(md5("one\n"), hold_ms=20000) is True
    timer.join()
    # the answer is encoded as Java's URLEncoder does: a space arrives as '+'
    spaced = client_for(fake, dataid="my app.conf", namespace="dev")
    fake.publish("my app.conf", "x\n", tenant="dev")
    assert spaced.listen("", hold_ms=200) is True and spaced.listen(md5("x\n"), hold_ms=200) is False


def test_failover_and_outages(fake: FakeNacos) -> None:
    dead = f"127.0.0.1:{free_port()}"
    client = client_for(fake, server=f"{dead},{fake.address}")
    fake.publish(DATA_ID, "x\n")
    assert client.get()[0] == "x\n"  # the refused first server is skipped
    fake.set_mode("500")
    with pytest.raises(NacosUnavailable, match="HTTP 500"):
        client.get()
    fake.set_mode("timeout")
    client.read_timeout = 0.3
    with pytest.raises(NacosUnavailable, match="timed out"):
        client.get(rounds=1)
    fake.set_mode("ok")
    fake.stop()
    with pytest.raises(NacosUnavailable, match="connection refused"):
        client.get()
    # whatever else requests reports, a URL in it never shows the token
    import requests

    from supervisord.nacos.client import _reason

    hidden = _reason(requests.exceptions.InvalidURL("bad: http://h/x?dataId=a&accessToken=T0KEN&b=1"))
    assert "T0KEN" not in hidden and "accessToken=<hidden>&b=1" in hidden


# -- the daemon --


class NacosDaemon:
    """A daemon whose config lives in the fake; the local file only says where (or nothing, with flags)."""

    def __init__(self, tmp: Path, fake: FakeNacos, *extra: str, publish: bool = True) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.cache = tmp / "cache"
        probe = Daemon(tmp, "")  # for its [supervisord] header (log, pid, childlogdir in tmp)
        self.header = probe.config.read_text()
        self.text = self.header + inet_section(self.port) + "\n" + PROGRAMS
        if publish:
            fake.publish(DATA_ID, self.text)
        flags = (
            f"--nacos-server={fake.address}",
            f"--nacos-dataid={DATA_ID}",
            "--nacos-username=nacos",
            "--nacos-password=s3cret",
            f"--nacos-cache-dir={self.cache}",
            *extra,
        )
        self.d = Daemon(tmp, "", args=flags)
        self.rest = Rest(self.port)

    def states(self) -> dict[str, str]:
        try:
            return {p["name"]: p["statename"] for p in self.rest.get("/program/list").json()}
        except Exception:
            return {}

    def wait_states(self, wanted: dict[str, str], timeout: float = 20) -> None:
        wait_for(lambda: self.states() == wanted, timeout, what=f"{wanted}, log:\n{self.d.log()}")


def test_starts_from_nacos_and_caches(tmp_path: Path, fake: FakeNacos) -> None:
    nd = NacosDaemon(tmp_path, fake)
    nd.d.start()
    try:
        nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
        cached = [json.loads(p.read_text()) for p in nd.cache.glob("*.json")]
        assert [c["md5"] for c in cached] == [md5(nd.text)] and cached[0]["content"] == nd.text
        info = nd.rest.get("/api/config").json()
        assert (info["source"], info["name"], info["md5"]) == ("nacos", f"nacos:{DATA_ID}", md5(nd.text))
    finally:
        nd.d.stop()


def test_starts_from_the_cache_while_nacos_is_down(tmp_path: Path, fake: FakeNacos) -> None:
    nd = NacosDaemon(tmp_path, fake)
    nd.d.start()
    nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
    nd.d.stop()
    fake.stop()
    nd.d.start()
    try:
        nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
        nd.d.wait_log(r"nacos: no Nacos server answered .*; starting from the cached config saved")
        fake.start()  # Nacos is back: the listener finds it again and a publish applies
        fake.publish(DATA_ID, nd.text.replace("[program:beta]", "[program:gamma]"))
        nd.wait_states({"alpha": "RUNNING", "gamma": "RUNNING"})
    finally:
        nd.d.stop()


def test_not_use_cache_fails_clearly_when_nacos_is_down(tmp_path: Path, fake: FakeNacos) -> None:
    nd = NacosDaemon(tmp_path, fake)
    nd.d.start()
    nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
    nd.d.stop()  # a cache exists now, and must not be used
    fake.stop()
    run = subprocess.run(
        [*nd.d.command(), "--nacos-not-use-cache"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert run.returncode == 2, run.stderr
    assert "Error: cannot read the config from Nacos (no Nacos server answered" in run.stderr
    assert "the local cache is off (--nacos-not-use-cache)" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "supervisord.pid").exists()


def test_publish_applies_and_a_broken_one_changes_nothing(tmp_path: Path, fake: FakeNacos) -> None:
    nd = NacosDaemon(tmp_path, fake)
    nd.d.start()
    try:
        nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
        alpha = nd.d.pid_of("alpha")
        changed = nd.text.replace("[program:beta]", "[program:gamma]")
        fake.publish(DATA_ID, changed)
        nd.wait_states({"alpha": "RUNNING", "gamma": "RUNNING"})
        assert nd.d.pid_of("alpha") == alpha  # untouched keeps running
        nd.d.wait_log(r"nacos: applied: added \['gamma'\], changed \[\], removed \['beta'\]")
        broken = changed + "\n[program:bad]\ncommand = sleep 1\nstartsecs = soon\n"
        line = broken.splitlines().index("startsecs = soon") + 1
        fake.publish(DATA_ID, broken)
        nd.d.wait_log(rf"nacos: rejected the config published .* nacos:{DATA_ID}:{line}: \[program:bad\]")
        reload = nd.rest.post("/supervisor/reload")  # a reread meets the same refusal
        assert reload.status_code == 400 and f"nacos:{DATA_ID}:{line}:" in reload.json()["error"]
        with pytest.raises(xmlrpc.client.Fault, match=rf"CANT_REREAD: nacos:{DATA_ID}:{line}:"):
            xmlrpc.client.ServerProxy(f"http://127.0.0.1:{nd.port}/RPC2").supervisor.reloadConfig()
        assert nd.states() == {"alpha": "RUNNING", "gamma": "RUNNING"}
        cached = json.loads(next(nd.cache.glob("*.json")).read_text())
        assert cached["content"] == changed  # never a broken config in the cache
    finally:
        nd.d.stop()


def test_program_editor_on_nacos(tmp_path: Path, fake: FakeNacos) -> None:
    nd = NacosDaemon(tmp_path, fake)
    nd.d.start()
    try:
        rest = nd.rest
        nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
        listing = rest.get("/api/config/programs").json()
        assert [p["name"] for p in listing["programs"]] == ["alpha", "beta"]
        assert listing["programs"][0]["text"] == "command = sleep 1000\nstartsecs = 0\n"
        tag = listing["md5"]
        resp = rest.post(
            "/api/config/programs", json={"name": "web", "text": "command = sleep 1000\n", "md5": tag}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["added"] == ["web"]
        assert "[program:web]\ncommand = sleep 1000\n" in (fake.content(DATA_ID) or "")
        nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING", "web": "RUNNING"})
        # a second editor still holding the old md5 is refused, and Nacos keeps the first edit
        late = rest.post(
            "/api/config/programs", json={"name": "other", "text": "command = cat\n", "md5": tag}
        )
        assert late.status_code == 409 and late.json()["code"] == "CONFLICT"
        tag = resp.json()["md5"]
        bad = rest(
            "PUT",
            "/api/config/programs/web",
            json={"text": "command = sleep 1\nstartsecs = soon\n", "md5": tag},
        )
        assert bad.status_code == 400 and f"nacos:{DATA_ID}:" in bad.json()["error"]
        assert "startsecs = soon" not in (fake.content(DATA_ID) or "")
        copied = rest.post("/api/config/programs/alpha/copy", json={"to": "alpha2", "md5": tag})
        assert copied.json()["added"] == ["alpha2"], copied.text
        tag = copied.json()["md5"]
        gone = rest("DELETE", f"/api/config/programs/beta?md5={tag}")
        assert gone.json()["removed"] == ["beta"], gone.text
        nd.wait_states({"alpha": "RUNNING", "alpha2": "RUNNING", "web": "RUNNING"})
        assert "[program:beta]" not in (fake.content(DATA_ID) or "")
    finally:
        nd.d.stop()


def test_concurrent_edits_one_is_refused(tmp_path: Path, fake: FakeNacos) -> None:
    """Both editors read the same md5; whatever the interleaving, exactly one write lands."""
    nd = NacosDaemon(tmp_path, fake)
    nd.d.start()
    try:
        nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
        tag = nd.rest.get("/api/config/programs").json()["md5"]
        answers: list[int] = []

        def edit(name: str) -> None:
            body = {"name": name, "text": "command = sleep 1000\n", "md5": tag}
            answers.append(Rest(nd.port).post("/api/config/programs", json=body).status_code)

        threads = [threading.Thread(target=edit, args=(n,)) for n in ("one", "two")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(answers) == [200, 409]
        content = fake.content(DATA_ID) or ""
        assert ("[program:one]" in content) != ("[program:two]" in content)
    finally:
        nd.d.stop()


def test_program_editor_on_the_local_file(tmp_path: Path) -> None:
    port = free_port()
    d = Daemon(tmp_path, PROGRAMS, supervisord=inet_section(port)).start()
    rest = Rest(port)
    try:
        wait_for(lambda: rest.get("/program/list").status_code == 200, what="the daemon")
        before = d.config.read_text()
        listing = rest.get("/api/config/programs").json()
        assert listing["source"] == "file" and listing["name"] == str(d.config)
        body = {"name": "gamma", "text": "command = sleep 1000\nstartsecs = 0\n", "md5": listing["md5"]}
        resp = rest.post("/api/config/programs", json=body)
        assert resp.status_code == 200 and resp.json()["added"] == ["gamma"], resp.text
        assert d.config.read_text() == before + "\n[program:gamma]\ncommand = sleep 1000\nstartsecs = 0\n"
        assert (tmp_path / "supervisord.conf.bak").read_text() == before
        wait_for(lambda: rest.get("/program/info/gamma").json().get("statename") == "RUNNING", what="gamma")
        bad = {"text": "command = sleep 1\nautorestart = sometimes\n", "md5": resp.json()["md5"]}
        refused = rest("PUT", "/api/config/programs/gamma", json=bad)
        assert refused.status_code == 400 and f"{d.config}:" in refused.json()["error"]
        assert ".tmp" not in refused.json()["error"]
        assert "sometimes" not in d.config.read_text()
        assert not list(tmp_path.glob(".supervisord.conf.*.tmp"))
    finally:
        d.stop()


def test_nacos_settings_saved_then_used_after_restart(tmp_path: Path, fake: FakeNacos) -> None:
    port = free_port()
    d = Daemon(
        tmp_path, "[program:local]\ncommand = sleep 1000\nstartsecs = 0\n", supervisord=inet_section(port)
    )
    nacos_text = d.config.read_text().replace("[program:local]", "[program:remote]")
    fake.publish(DATA_ID, nacos_text, tenant="dev")
    d.start()
    rest = Rest(port)
    try:
        wait_for(lambda: rest.get("/program/info/local").status_code == 200, what="the daemon")
        assert rest.get("/api/nacos").json()["active"] is False
        settings = {
            "server": fake.address,
            "dataid": DATA_ID,
            "namespace": "dev",
            "username": "nacos",
            "password": "s3cret",
            "cache_dir": str(tmp_path / "cache"),
        }
        bad = rest("PUT", "/api/nacos", json={**settings, "server": "nohost"})
        assert bad.status_code == 400 and "expected IP:PORT" in bad.json()["error"]
        saved = rest("PUT", "/api/nacos", json=settings)
        assert saved.status_code == 200, saved.text
        text = d.config.read_text()
        assert f"[nacos]\nserver = {fake.address}\ndataid = {DATA_ID}\nnamespace = dev\n" in text
        shown = rest.get("/api/nacos").json()
        assert shown["saved"]["has_password"] is True and "s3cret" not in json.dumps(shown)
        d.signal(signal.SIGHUP)  # applied on restart, as the seed says
        wait_for(lambda: rest.get("/program/info/remote").status_code == 200, timeout=30, what="remote")
        assert rest.get("/api/nacos").json()["active"] is True
        assert rest.get("/program/info/local").status_code == 404
    finally:
        d.stop()


def test_flags_without_dataid_are_a_clear_error(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "supervisord", "--nacos-server=127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert "Error: a Nacos server is set (--nacos-server) but no dataId (--nacos-dataid)" in run.stderr


def test_environment_selects_nacos(tmp_path: Path, fake: FakeNacos) -> None:
    """For containers: no flags, the environment names the server, namespace and group."""
    port = free_port()
    text = Daemon(tmp_path, PROGRAMS, supervisord=inet_section(port)).config.read_text()
    fake.publish("app.conf", text.replace("[program:beta]", "[program:fromenv]"), group="OPS", tenant="prod")
    d = Daemon(tmp_path, "")
    d.config.unlink()  # no local file at all: the environment is enough
    env = {
        "SUPERVISORD_NACOS_SERVER": fake.address,
        "SUPERVISORD_NACOS_DATAID": "app.conf",
        "SUPERVISORD_NACOS_NAMESPACE": "prod",
        "SUPERVISORD_NACOS_GROUP": "OPS",
        "SUPERVISORD_NACOS_USERNAME": "nacos",
        "SUPERVISORD_NACOS_PASSWORD": "s3cret",
        "SUPERVISORD_NACOS_NOT_USE_CACHE": "true",
    }
    d.start(env=env)
    rest = Rest(port)
    try:
        wait_for(lambda: rest.get("/program/info/fromenv").status_code == 200, timeout=20, what="fromenv")
        assert rest.get("/api/nacos").json()["running"]["origin"] == "$SUPERVISORD_NACOS_SERVER"
    finally:
        d.stop()


def test_text_edits_keep_everything_else() -> None:
    from supervisord import programedit
    from supervisord.config.loader import load_config_text
    from supervisord.configsource import EditRefused

    text = "; head\n[supervisord]\n\n[program:a] ; first\ncommand = a\n; note\n\n[group:g]\nprograms = a\n"
    changed = programedit.modify(text, "a", "command = b\n")
    assert changed == "; head\n[supervisord]\n\n[program:a]\ncommand = b\n\n[group:g]\nprograms = a\n"
    copied = programedit.copy(text, "a", "c")
    assert copied.endswith("programs = a\n\n[program:c]\ncommand = a\n; note\n")
    assert programedit.delete(copied, "c") == text.rstrip("\n") + "\n"
    for bad in (
        lambda: programedit.add(text, "a", "command = x"),
        lambda: programedit.add(text, "x:y", "command = x"),
        lambda: programedit.add(text, "x", "command = x\n[program:evil]\n"),
        lambda: programedit.modify(text + "[program:a]\n", "a", "command = x"),
        lambda: programedit.delete(text, "nope"),
    ):
        with pytest.raises(EditRefused):
            bad()
    with pytest.raises(ConfigError, match=r"^nacos:x\.conf:3: \[include\] .*not supported"):
        load_config_text("[supervisord]\n\n[include]\nfiles = *.conf\n", "nacos:x.conf")
    with pytest.raises(ConfigError, match=r"^nacos:x\.conf:4: \[program:a\] startsecs: "):
        load_config_text("[supervisord]\n[program:a]\ncommand = a\nstartsecs = soon\n", "nacos:x.conf")


def test_publish_applies_after_a_restart(tmp_path: Path, fake: FakeNacos) -> None:
    """SIGHUP re-reads from Nacos; the listener then serves the new run (not the one that ended)."""
    nd = NacosDaemon(tmp_path, fake)
    nd.d.start()
    try:
        nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
        fake.publish(DATA_ID, nd.text.replace("[program:beta]", "[program:after]"))
        nd.wait_states({"alpha": "RUNNING", "after": "RUNNING"})
        nd.d.signal(signal.SIGHUP)
        nd.d.wait_log("supervisord started with pid", count=2, timeout=30)
        nd.wait_states({"alpha": "RUNNING", "after": "RUNNING"})
        fake.publish(DATA_ID, nd.text.replace("[program:beta]", "[program:again]"))
        nd.wait_states({"alpha": "RUNNING", "again": "RUNNING"})
        assert nd.d.count("nacos: applied:") == 2
    finally:
        nd.d.stop()
