"""The fleet (issue 16) for real: one etcd (Debian's etcd-server) and three daemons that find each other.

Nodes a and c take the shared programs, b does not. The tests run in file order on one fleet: all listed,
an action on c through a, shared programs, etcd going away and coming back, and last b killed -9.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from etcd3gw.exceptions import Etcd3Exception
from etcdutil import Etcd
from harness import Daemon, wait_for
from rpcutil import free_port, inet_section
from webutil import SSE, Rest

TTL = 2
OFFLINE_KEEP = 5  # seconds a dead node stays listed as OFFLINE here (default 300)
PREFIX = "/fleet-test"
AUTH = ("fleet", "s3cret")
PROGRAMS = """\
[program:steady]
command = sleep 1000
startsecs = 0

[program:job]
command = sleep 1000
startsecs = 0
autostart = false
"""


class Node:
    def __init__(self, name: str, daemon: Daemon, port: int) -> None:
        self.name = name
        self.daemon = daemon
        self.port = port
        self.rest = Rest(port, AUTH)

    def state(self, spec: str) -> str:
        reply = self.rest.get(f"/program/info/{spec}")
        return str(reply.json().get("statename")) if reply.status_code == 200 else f"HTTP {reply.status_code}"

    def nodes(self) -> dict[str, dict[str, Any]]:
        return {n["name"]: n for n in self.rest.get("/supervisor/listNodes").json()}


def fleet_section(etcd: Etcd, name: str, shared: bool) -> str:
    return (
        f"[fleet]\netcd = {etcd.url}\nname = {name}\nttl = {TTL}\nprefix = {PREFIX}\n"
        f"shared_programs = {'true' if shared else 'false'}\noffline_keep = {OFFLINE_KEEP}\n"
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Etcd, dict[str, Node]]]:
    etcd = Etcd(tmp_path_factory.mktemp("etcd")).start()
    nodes: dict[str, Node] = {}
    try:
        for name, shared in (("a", True), ("b", False), ("c", True)):
            tmp = tmp_path_factory.mktemp(f"node-{name}")
            port = free_port()
            extra = inet_section(port, *AUTH) + fleet_section(etcd, name, shared)
            nodes[name] = Node(name, Daemon(tmp, PROGRAMS, supervisord=extra).start(), port)
        for node in nodes.values():
            wait_for(lambda n=node: n.state("steady") == "RUNNING", 20, interval=0.05, what="steady running")
        yield etcd, nodes
        for node in nodes.values():  # no bug of the agent or of the web layer went by unseen
            assert "fleet: unexpected error" not in node.daemon.log(), node.daemon.log()
            assert " raised: " not in node.daemon.log(), node.daemon.log()
    finally:
        for node in nodes.values():
            node.daemon.kill()
        etcd.stop()


def test_all_three_listed_on_every_node(fleet: tuple[Etcd, dict[str, Node]]) -> None:
    _, nodes = fleet
    for node in nodes.values():
        listed = wait_for(
            lambda n=node: (
                (found := n.nodes())
                and all(found.get(x, {}).get("status") == "ONLINE" for x in "abc")
                and found
            ),
            15,
            interval=0.1,
            what=f"a, b and c online as seen from {node.name}",
        )
        assert next(iter(listed)) == node.name and listed[node.name]["local"] is True
        assert {"cpu_percent", "mem_total", "mem_used", "version", "url"} <= set(listed["b"])
    # /program/list on a holds every node's processes, each naming its node
    procs = wait_for(
        lambda: (
            (p := nodes["a"].rest.get("/program/list").json())
            and {(i["node"], i["name"]) for i in p} >= {(n, "steady") for n in "abc"}
            and p
        ),
        10,
        what="every node's processes in a's list",
    )
    remote = next(i for i in procs if i["node"] == "c" and i["name"] == "steady")
    assert remote["statename"] == "RUNNING" and remote["pid"] > 0


def test_start_on_c_through_a(fleet: tuple[Etcd, dict[str, Node]]) -> None:
    _, nodes = fleet
    a, c = nodes["a"], nodes["c"]
    assert c.state("job") == "STOPPED"
    # not authorised on a: nothing is forwarded, nothing changes on c
    denied = Rest(a.port).post("/program/start/c/job")
    assert denied.status_code == 401
    wrong = Rest(a.port, ("fleet", "wrong")).post("/program/start/c/job")
    assert wrong.status_code == 401
    assert c.state("job") == "STOPPED"
    # authorised: forwarded to c with the fleet's credentials; c's answer comes back
    reply = a.rest.post("/program/start/c/job")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"success": True}
    assert c.state("job") == "RUNNING"
    again = a.rest.post("/program/start/c/job")
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_STARTED"
    # reading through a: info, and the live list catches up with c's summary
    assert a.rest.get("/program/info/c/job").json()["statename"] == "RUNNING"
    wait_for(
        lambda: any(
            i["node"] == "c" and i["name"] == "job" and i["statename"] == "RUNNING"
            for i in a.rest.get("/program/list").json()
        ),
        10,
        what="c's job RUNNING in a's list",
    )
    # a's own name works in the node form too (it is not its identifier)
    assert a.rest.post("/program/start/a/job").status_code == 200
    assert a.state("job") == "RUNNING"
    unknown = a.rest.post("/program/start/nowhere/job")
    assert unknown.status_code == 404 and unknown.json()["code"] == "BAD_NAME"
    assert a.rest.post("/program/stop/c/job").json() == {"success": True}
    assert c.state("job") == "STOPPED"
    assert a.rest.get("/supervisor/c/ping").json() == {"success": True}
    with open(c.daemon.config, "a") as fh:  # c's own file gains a program; a reload through a applies it on c
        fh.write("\n[program:extra]\ncommand = sleep 1000\nstartsecs = 0\n")
    reload = a.rest.post("/supervisor/c/reload")
    assert reload.json() == {"success": True, "added": ["extra"], "changed": [], "removed": []}
    wait_for(lambda: c.state("extra") == "RUNNING", 10, what="extra running on c")
    assert a.state("extra") == "HTTP 404"


def test_bulk_start_and_stop_across_nodes(fleet: tuple[Etcd, dict[str, Node]]) -> None:
    _, nodes = fleet
    a = nodes["a"]
    for node in nodes.values():
        if node.state("job") == "RUNNING":
            assert node.rest.post("/program/stop/job").status_code == 200
    names = [
        {"node": "a", "program": "job"},
        {"node": "b", "program": "job"},
        {"node": "c", "program": "job"},
    ]
    reply = a.rest.post("/program/startPrograms", json=names)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["success"] is True
    assert sorted((r["node"], r["name"], r["code"]) for r in data["results"]) == [
        (n, "job", "SUCCESS") for n in "abc"
    ]
    assert all(node.state("job") == "RUNNING" for node in nodes.values())
    mixed = a.rest.post("/program/stopPrograms", json=[*names, {"node": "c", "program": "nope"}]).json()
    assert mixed["success"] is False
    assert {(r["node"], r["code"]) for r in mixed["results"]} == {
        ("a", "SUCCESS"),
        ("b", "SUCCESS"),
        ("c", "BAD_NAME"),
    }
    assert nodes["a"].state("job") == nodes["b"].state("job") == "STOPPED"
    assert nodes["c"].state("job") == "RUNNING"  # c's request failed whole (a bad name), as on one node
    assert a.rest.post("/program/stopPrograms", json=[{"node": "c", "program": "job"}]).json()["success"]
    assert nodes["c"].state("job") == "STOPPED"
    unknown = a.rest.post("/program/startPrograms", json=[{"node": "zz", "program": "job"}])
    assert unknown.status_code == 404 and unknown.json()["code"] == "BAD_NAME"


def _links(frm: Node, to: Node) -> int:
    """TCP connections from one node's daemon to another node's API."""
    import psutil

    assert frm.daemon.proc is not None
    conns = psutil.Process(frm.daemon.proc.pid).net_connections(kind="tcp")
    return sum(1 for c in conns if c.raddr and c.raddr.port == to.port)


def test_events_and_log_follow_of_c_relayed_through_a(fleet: tuple[Etcd, dict[str, Node]]) -> None:
    """c's SSE feed through a: streamed as it comes, same credentials, closed when the client goes."""
    import base64

    import psutil

    _, nodes = fleet
    a, c = nodes["a"], nodes["c"]
    assert a.daemon.proc is not None
    assert Rest(a.port).get("/events/c", timeout=10).status_code == 401  # a's auth first: nothing relayed
    assert a.rest.get("/events/nowhere", timeout=10).json()["code"] == "BAD_NAME"
    auth = {"Authorization": "Basic " + base64.b64encode(":".join(AUTH).encode()).decode()}
    stream = SSE(a.port, "/events/c", auth)
    try:
        assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
        first = stream.next()
        # (gevent resolves the node's host on the hub's shared thread pool, which the first call may start)
        threads = psutil.Process(a.daemon.proc.pid).num_threads()
        assert first["event"] == "snapshot" and {p["name"] for p in first["json"]["processes"]} >= {"job"}
        toggle = "stop" if c.state("job") == "RUNNING" else "start"
        assert c.rest.post(f"/program/{toggle}/job").status_code == 200  # on c itself
        seen = stream.until(lambda e: e.get("event") == "state" and e["json"]["name"] == "job")
        assert seen["json"]["statename"] in ("STARTING", "RUNNING", "STOPPING", "STOPPED")
        assert _links(a, c) == 1
    finally:
        stream.close()
    # a notices its client went (a watch, or the next thing c sends) and closes its stream to c
    back = "start" if toggle == "stop" else "stop"
    assert c.rest.post(f"/program/{back}/job").status_code == 200
    wait_for(lambda: _links(a, c) == 0, 10, what="a's relay to c closed")
    assert psutil.Process(a.daemon.proc.pid).num_threads() == threads  # the relay held no thread
    # a log follow is relayed the same way
    follow = SSE(a.port, "/program/follow/c/steady/stdout", auth)
    try:
        assert follow.status == 200 and follow.content_type.startswith("text/event-stream")
        assert follow.resp.read1(64).startswith(b"retry: 1000")
    finally:
        follow.close()
    missing = a.rest.get("/program/follow/c/nope/stdout", timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "BAD_NAME"  # c's own answer
    wait_for(lambda: _links(a, c) == 0, 10, what="a's connections to c closed after the error and the follow")


def test_gui_node_cards_and_start_on_c(
    fleet: tuple[Etcd, dict[str, Node]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """a's page: a card per node (online, CPU, memory, version), c's table, and a Start there that reaches c."""
    import base64
    import shutil

    pytest.importorskip("selenium.webdriver")
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip("chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, nodes = fleet
    a, c = nodes["a"], nodes["c"]
    if c.state("job") == "RUNNING":
        c.rest.post("/program/stop/job")
    from webutil import chromium

    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        token = base64.b64encode(":".join(AUTH).encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}}
        )
        driver.get(f"http://127.0.0.1:{a.port}/")
        wait = WebDriverWait(driver, 20)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".nodecard.online")) == 3, "3 online cards")
        cards = {
            e.get_attribute("data-node"): e.text for e in driver.find_elements(By.CSS_SELECTOR, ".nodecard")
        }
        assert set(cards) == {"a", "b", "c"}
        assert all("ONLINE" in t and "CPU" in t and "mem" in t and "v4.3.0" in t for t in cards.values())
        button = '//section[@data-node="c"]//tr[@data-spec="job"]//button[normalize-space()="Start"]'
        wait.until(lambda d: d.find_elements(By.XPATH, button), "c's job row")
        driver.find_element(By.XPATH, button).click()
        wait_for(lambda: c.state("job") == "RUNNING", 15, what="c's job started from a's page")
        badge = '//section[@data-node="c"]//tr[@data-spec="job"]//span[contains(@class, "badge")]'
        wait.until(lambda d: d.find_element(By.XPATH, badge).text == "RUNNING", "c's job RUNNING on the page")
        # a change made on c itself reaches a's page too (the live feed's "fleet" message, no reload)
        assert c.rest.post("/program/stop/job").status_code == 200
        wait.until(lambda d: d.find_element(By.XPATH, badge).text == "STOPPED", "c's job STOPPED on the page")
    finally:
        driver.quit()


def test_shared_program_starts_where_opted_in(fleet: tuple[Etcd, dict[str, Node]]) -> None:
    etcd, nodes = fleet
    etcd.put(f"{PREFIX}/shared/common", "command = sleep 1000\nstartsecs = 0\n")
    for name in "ac":
        wait_for(lambda n=nodes[name]: n.state("common") == "RUNNING", 15, what=f"common running on {name}")
        nodes[name].daemon.wait_log(r"fleet: shared programs applied: added \['common'\]")
    assert nodes["b"].state("common") == "HTTP 404"
    pid = nodes["a"].rest.get("/program/info/common").json()["pid"]
    # a broken value changes nothing, and says why
    etcd.put(f"{PREFIX}/shared/common", "command = sleep 1000\nstartsecs = soon\n")
    for name in "ac":
        nodes[name].daemon.wait_log(r"fleet: shared programs rejected, nothing changed: .*startsecs")
    assert nodes["a"].rest.get("/program/info/common").json()["pid"] == pid
    # removing it removes the program (as update would)
    etcd.delete(f"{PREFIX}/shared/common")
    for name in "ac":
        wait_for(lambda n=nodes[name]: n.state("common") == "HTTP 404", 15, what=f"common gone from {name}")


def test_etcd_outage_keeps_nodes_working(fleet: tuple[Etcd, dict[str, Node]]) -> None:
    etcd, nodes = fleet
    a, c = nodes["a"], nodes["c"]
    # the premise: a knows every node before etcd goes away (tests may run alone, in any order)
    wait_for(
        lambda: all(a.nodes().get(x, {}).get("status") == "ONLINE" for x in "abc"),
        20,
        interval=0.1,
        what="a, b and c online as seen from a",
    )
    # a loaded etcd may have timed out earlier: count this outage and this recovery, not an older one
    outages = len(a.daemon.times("fleet: etcd unreachable"))
    recoveries = len(a.daemon.times("fleet: etcd at .* answers again"))
    etcd.stop()
    try:
        _while_etcd_is_away(a, outages + 1)
    finally:
        etcd.start()
    a.daemon.wait_log("fleet: etcd at .* answers again", count=recoveries + 1, timeout=20)
    _after_etcd_returns(a, c)


def _while_etcd_is_away(a: Node, outages: int = 1) -> None:
    a.daemon.wait_log("fleet: etcd unreachable", count=outages)
    # supervising goes on: local actions and the local view answer
    assert a.rest.post("/program/start/job").json() == {"success": True}
    assert a.state("job") == "RUNNING"
    assert a.rest.post("/program/stop/job").json() == {"success": True}
    assert a.state("job") == "STOPPED"
    seen = a.nodes()
    assert seen["a"]["status"] == "ONLINE" and seen["a"]["etcd"] is False
    assert seen["c"]["status"] == "UNKNOWN"


def _after_etcd_returns(a: Node, c: Node) -> None:
    wait_for(
        lambda: all(n.get("status") == "ONLINE" for n in a.nodes().values()) and len(a.nodes()) == 3,
        20,
        what="every node online again",
    )
    # and state flows again: a change on c shows in a's list
    assert c.rest.post("/program/start/job").status_code == 200
    wait_for(
        lambda: any(
            i["node"] == "c" and i["name"] == "job" and i["statename"] == "RUNNING"
            for i in a.rest.get("/program/list").json()
        ),
        15,
        what="c's job RUNNING in a's list after the outage",
    )


def test_lost_lease_registers_again_and_a_name_is_never_shared(
    fleet: tuple[Etcd, dict[str, Node]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import json

    from etcd3gw.lease import Lease

    etcd, nodes = fleet
    a, c = nodes["a"], nodes["c"]
    client = etcd.client()
    [(value, meta)] = client.get(f"{PREFIX}/nodes/a", metadata=True)
    assert json.loads(value)["url"] == f"http://127.0.0.1:{a.port}"
    registered = a.daemon.count("fleet: registered as a")
    Lease(int(meta["lease"]), client).revoke()  # as if etcd had lost it
    a.daemon.wait_log("fleet: our lease had expired; registering again")
    a.daemon.wait_log("fleet: registered as a", count=registered + 1)
    wait_for(lambda: c.nodes().get("a", {}).get("status") == "ONLINE", 10, what="a online again, seen from c")
    # a second daemon calling itself "a" is refused while a lives; a's record stays a's
    tmp = tmp_path_factory.mktemp("node-a2")
    port = free_port()
    twin = Daemon(tmp, PROGRAMS, supervisord=inet_section(port, *AUTH) + fleet_section(etcd, "a", False))
    twin.start()
    try:
        twin.wait_log("fleet: the name 'a' is held by another live node", timeout=15)
        [(value, _)] = client.get(f"{PREFIX}/nodes/a", metadata=True)
        assert json.loads(value)["url"] == f"http://127.0.0.1:{a.port}"
    finally:
        twin.stop()


def test_restart_leaves_and_registers_again(fleet: tuple[Etcd, dict[str, Node]]) -> None:
    """SIGHUP: the old run revokes its lease on the way out, the new run registers under the same name."""
    _, nodes = fleet
    a, c = nodes["a"], nodes["c"]
    registered = c.daemon.count("fleet: registered as c")
    c.daemon.signal(signal.SIGHUP)
    c.daemon.wait_log("fleet: registered as c", count=registered + 1, timeout=20)
    assert "held by another live node" not in c.daemon.log()
    wait_for(lambda: c.state("steady") == "RUNNING", 15, what="c serving again")
    wait_for(lambda: a.nodes().get("c", {}).get("status") == "ONLINE", 10, what="c online, seen from a")
    assert a.rest.get("/program/info/c/steady").json()["statename"] == "RUNNING"


def test_killed_node_goes_offline_within_the_ttl(fleet: tuple[Etcd, dict[str, Node]]) -> None:
    _, nodes = fleet
    a, b = nodes["a"], nodes["b"]
    wait_for(lambda: a.nodes().get("b", {}).get("status") == "ONLINE", 15, what="b online")
    assert b.daemon.proc is not None
    import requests

    events = requests.get(f"http://127.0.0.1:{a.port}/events", auth=AUTH, stream=True, timeout=TTL + 10)
    try:
        os.kill(b.daemon.proc.pid, signal.SIGKILL)
        b.daemon.proc.wait(5)
        # the lease lapses TTL seconds after b's last keepalive; a notices on its next read (a tick)
        wait_for(lambda: a.nodes()["b"]["status"] == "OFFLINE", TTL + 3, interval=0.05, what="b offline")
        # and a's live feed told its browsers that the fleet changed (they re-read it; nothing polls)
        lines = events.iter_lines(decode_unicode=True)
        assert any(line == "event: fleet" for line in lines)
    finally:
        events.close()
    reply = a.rest.post("/program/start/b/job")
    assert reply.status_code == 502 and reply.json()["code"] == "NODE_UNREACHABLE"
    assert a.rest.get("/events/b", timeout=10).json()["code"] == "NODE_UNREACHABLE"
    assert all(i["node"] != "b" for i in a.rest.get("/program/list").json())
    # listed as OFFLINE for offline_keep seconds, then forgotten
    wait_for(lambda: "b" not in a.nodes(), OFFLINE_KEEP + 3, interval=0.1, what="b forgotten")
    b.daemon.kill()  # its children (killed with the daemon's group)


STORM = "".join(
    f"[program:storm{n}]\ncommand = true\nstartsecs = 0\nautorestart = true\nstartretries = 1000000\n\n"
    for n in range(20)
)


def test_storm_coalesced_auth_failover_and_no_secret_in_etcd(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """etcd with auth on, behind a dead endpoint; 20 programs restarting as fast as they can: few writes."""
    etcd = Etcd(tmp_path_factory.mktemp("etcd-auth")).start()
    root = ("root", "etcd-pw")
    etcd.enable_auth(*root)
    tmp = tmp_path_factory.mktemp("node-storm")
    port = free_port()
    fleet = fleet_section(etcd, "storm", False) + f"username = {root[0]}\npassword = {root[1]}\n"
    dead = f"http://127.0.0.1:{free_port()}"  # the first endpoint answers nothing: the next one is used
    fleet = fleet.replace(f"etcd = {etcd.url}", f"etcd = {dead}, {etcd.url}")
    node = Node("storm", Daemon(tmp, STORM, supervisord=inet_section(port, *AUTH) + fleet).start(), port)
    try:
        node.daemon.wait_log(f"fleet: registered as storm .* at {etcd.url}", timeout=20)
        client = etcd.client(root)
        wait_for(lambda: node.daemon.count(r"success: storm\d+ entered RUNNING") >= 200, 30, what="a storm")
        events_before = node.daemon.count("entered RUNNING|exited:")
        rev_before = int(client.status()["header"]["revision"])
        began = time.monotonic()
        wait_for(lambda: time.monotonic() - began >= 3, 5, interval=0.1, what="3 s of storm")
        writes = int(client.status()["header"]["revision"]) - rev_before
        events = node.daemon.count("entered RUNNING|exited:") - events_before
        seconds = time.monotonic() - began
        # one summary per tick at most, plus the node record at each keepalive (both ≤ 1 per tick)
        tick = min(1.0, TTL / 3)
        assert events > 10 * writes, (events, writes)
        assert writes <= 2 * (seconds / tick + 2), (writes, seconds)
        values = b"".join(v for v, _ in client.get_prefix(PREFIX + "/"))
        assert b"storm0" in values  # the summary is there, readable only with etcd credentials
        for secret in (AUTH[1], root[1]):
            assert secret.encode() not in values
        with pytest.raises(Etcd3Exception) as refused:  # without etcd credentials: nothing to read
            etcd.client().get_prefix(PREFIX + "/")
        assert "user name is empty" in str(refused.value.detail_text)
        print(f"storm: {events} state changes, {writes} etcd writes in {seconds:.1f} s")
    finally:
        node.daemon.kill()
        etcd.stop()
