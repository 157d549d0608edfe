"""A real etcd (Debian's etcd-server) for the fleet tests: loopback ports, a temp data dir, killed at the end."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from harness import wait_for
from rpcutil import free_port

ETCD = shutil.which("etcd")


class Etcd:
    def __init__(self, tmp: Path) -> None:
        if ETCD is None:
            pytest.skip("etcd is not installed (Debian etcd-server; .ci/run installs it)")
        self.tmp = tmp
        self.data = tmp / "etcd-data"
        self.port = free_port()
        self.peer = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Etcd:
        peer = f"http://127.0.0.1:{self.peer}"
        assert ETCD is not None
        with open(self.tmp / "etcd.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    ETCD,
                    "--name=fleet-test",
                    f"--data-dir={self.data}",
                    f"--listen-client-urls={self.url}",
                    f"--advertise-client-urls={self.url}",
                    f"--listen-peer-urls={peer}",
                    f"--initial-advertise-peer-urls={peer}",
                    f"--initial-cluster=fleet-test={peer}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_for(self.healthy, 20, interval=0.05, what=f"etcd on {self.url}")
        return self

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"etcd exited: {(self.tmp / 'etcd.log').read_text()[-2000:]}")
        try:
            return requests.get(self.url + "/health", timeout=1).json().get("health") == "true"
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        """SIGKILL: the tests want etcd gone at once (the data dir stays for a restart)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def client(self, auth: tuple[str, str] | None = None) -> Any:
        import etcd3gw

        client = etcd3gw.Etcd3Client(host="127.0.0.1", port=self.port, timeout=5)
        if auth is not None:
            token = client.post(
                client.get_url("/auth/authenticate"), json={"name": auth[0], "password": auth[1]}
            )
            client.session.headers["Authorization"] = token["token"]
        return client

    def put(self, key: str, value: str) -> None:
        self.client().put(key, value)

    def delete(self, key: str) -> None:
        self.client().delete(key)

    def enable_auth(self, user: str, password: str) -> None:
        """etcd's own auth on: ``user`` gets the root role (the gateway calls etcdctl would make)."""
        client = self.client()
        for path, body in (
            ("/auth/user/add", {"name": user, "password": password}),
            ("/auth/role/add", {"name": "root"}),
            ("/auth/user/grant", {"user": user, "role": "root"}),
            ("/auth/enable", {}),
        ):
            client.post(client.get_url(path), json=body)
