"""``[fleet]`` as the config loader reads it (issue 16): defaults, every value checked with file and line,
and the shared programs merged like local ones (same validation; the local file wins a clash)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from supervisord.config.errors import ConfigError
from supervisord.config.loader import load_config
from supervisord.config.model import Config

BASE = """\
[supervisord]
identifier = alpha
[inet_http_server]
port = 127.0.0.1:9011
[program:local]
command = sleep 1
"""


def load(tmp_path: Path, fleet: str, *, shared: tuple[tuple[str, str], ...] = ()) -> Config:
    path = tmp_path / "supervisord.conf"
    path.write_text(BASE + textwrap.dedent(fleet))
    return load_config(str(path), environ={}, cwd=str(tmp_path), shared=shared)


def error(tmp_path: Path, fleet: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, fleet)
    return str(info.value)


def test_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path, "[fleet]\netcd = http://127.0.0.1:2379\n").fleet
    assert cfg is not None
    assert cfg.etcd == ("http://127.0.0.1:2379",)
    assert (cfg.name, cfg.ttl, cfg.prefix, cfg.shared_programs) == ("alpha", 10, "/supervisord", False)
    assert cfg.url == "http://127.0.0.1:9011" and cfg.username is None and cfg.cafile is None
    assert cfg.offline_keep == 300
    assert load(tmp_path, "").fleet is None


def test_every_key(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    cfg = load(
        tmp_path,
        """\
        [fleet]
        etcd = https://e1:2379, https://e2
        name = web-1
        ttl = 5
        prefix = fleets/prod/
        username = node
        password = pw
        cafile = ca.pem
        certfile = c.pem
        keyfile = k.pem
        shared_programs = yes
        url = http://10.0.0.5:9011
        """,
    ).fleet
    assert cfg is not None
    assert cfg.etcd == ("https://e1:2379", "https://e2:2379")
    assert (cfg.name, cfg.ttl, cfg.prefix) == ("web-1", 5, "/fleets/prod")
    assert (cfg.username, cfg.password, cfg.shared_programs) == ("node", "pw", True)
    assert cfg.cafile == str(tmp_path / "ca.pem") and cfg.keyfile == str(tmp_path / "k.pem")
    assert cfg.url == "http://10.0.0.5:9011"


@pytest.mark.parametrize(
    ("fleet", "line", "words"),
    [
        ("[fleet]\nname = x\n", 7, "no etcd value"),
        ("[fleet]\netcd = 127.0.0.1:2379\n", 8, "expected http://host:port"),
        ("[fleet]\netcd = http://h:2379/v3\n", 8, "no path"),
        ("[fleet]\netcd = http://u:p@h:2379\n", 8, "no path, no credentials"),
        ("[fleet]\netcd = http://h:99999\n", 8, "bad port"),
        ("[fleet]\netcd = http://h\nttl = 0\n", 9, "ttl"),
        ("[fleet]\netcd = http://h\nname = a/b\n", 9, "without '/'"),
        ("[fleet]\netcd = http://h\nprefix = /\n", 9, "key prefix"),
        ("[fleet]\netcd = http://h\nusername = u\n", 9, "without a password"),
        ("[fleet]\netcd = http://h\ncafile = nope.pem\n", 9, "existing file"),
        ("[fleet]\netcd = http://h\nshared_programs = maybe\n", 9, "shared_programs"),
        ("[fleet]\netcd = http://h\nurl = ftp://x\n", 9, "expected http://host:port"),
        ("[fleet]\netcd = http://h\noffline_keep = -1\n", 9, "offline_keep"),
    ],
)
def test_bad_values_name_file_and_line(tmp_path: Path, fleet: str, line: int, words: str) -> None:
    text = error(tmp_path, fleet)
    assert f"supervisord.conf:{line}" in text or f"line {line}" in text, text
    assert words in text, text


def test_a_hashed_api_password_is_refused_at_load(tmp_path: Path) -> None:
    """Forwarding sends this node's API password; a {SHA} hash cannot be sent as one (docs/fleet.md)."""
    path = tmp_path / "supervisord.conf"
    sha = "{SHA}" + "0" * 40
    path.write_text(
        f"[supervisord]\n[inet_http_server]\nport = 127.0.0.1:9011\nusername = u\npassword = {sha}\n"
        "[fleet]\netcd = http://h\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(str(path), environ={}, cwd=str(tmp_path))
    text = str(info.value)
    assert f"{path}:5" in text and "[inet_http_server] password" in text, text
    assert "must be in plain text, not {SHA}" in text, text
    path.write_text(path.read_text().replace(sha, "plain"))
    assert load_config(str(path), environ={}, cwd=str(tmp_path)).fleet is not None


def test_needs_an_inet_server(tmp_path: Path) -> None:
    path = tmp_path / "supervisord.conf"
    path.write_text("[supervisord]\n[fleet]\netcd = http://h\n")
    with pytest.raises(ConfigError, match=r"needs an \[inet_http_server\]"):
        load_config(str(path), environ={}, cwd=str(tmp_path))


def test_shared_programs_merge_only_when_opted_in(tmp_path: Path) -> None:
    shared = (("etcd:/supervisord/shared/web", "[program:web]\ncommand = sleep 2\n"),)
    on = load(tmp_path, "[fleet]\netcd = http://h\nshared_programs = true\n", shared=shared)
    assert {g.name for g in on.groups} == {"local", "web"}
    off = load(tmp_path, "[fleet]\netcd = http://h\n", shared=shared)
    assert {g.name for g in off.groups} == {"local"}


def test_shared_programs_same_validation_and_local_wins(tmp_path: Path) -> None:
    fleet = "[fleet]\netcd = http://h\nshared_programs = true\n"
    bad = (("etcd:/s/shared/web", "[program:web]\ncommand = sleep 2\nstartsecs = soon\n"),)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, fleet, shared=bad)
    assert "etcd:/s/shared/web" in str(info.value) and "startsecs" in str(info.value)
    other = (("etcd:/s/shared/x", "[supervisord]\nuser = root\n"),)
    with pytest.raises(ConfigError, match="only define"):
        load(tmp_path, fleet, shared=other)
    clash = (("etcd:/s/shared/local", "[program:local]\ncommand = sleep 99\n"),)
    cfg = load(tmp_path, fleet, shared=clash)
    assert cfg.groups[0].processes[0].command == "sleep 1"
    assert any("the shared one is ignored" in w for w in cfg.warnings)
