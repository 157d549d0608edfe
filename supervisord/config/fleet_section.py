"""``[fleet]``: this daemon as one node of a fleet coordinated through etcd v3 (see docs/fleet.md).

Every value is checked here, with the file and line of a bad key, so a typo in an endpoint or a TTL stops the
daemon at start (or a reload keeps the old config) instead of surfacing later as a node that never appears.
"""

from __future__ import annotations

import os
import urllib.parse

from supervisord.config import values as v
from supervisord.config.context import LoadContext
from supervisord.config.ini import IniDocument
from supervisord.config.model import FleetConfig, InetHttpServerConfig
from supervisord.config.section import SectionReader

FLEET_KEYS = frozenset(
    {
        "etcd",
        "name",
        "ttl",
        "prefix",
        "username",
        "password",
        "cafile",
        "certfile",
        "keyfile",
        "shared_programs",
        "url",
        "offline_keep",
    }
)


def parse_endpoints(text: str) -> tuple[str, ...]:
    """``http://h:2379, https://h2:2379`` → each endpoint normalised (scheme://host:port)."""
    out = []
    for item in text.replace(",", " ").split():
        parts = urllib.parse.urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http://host:port or https://host:port, got '{item}'")
        try:
            port = parts.port or 2379
        except ValueError:
            raise ValueError(f"bad port in '{item}'") from None
        if parts.path not in ("", "/") or parts.query or parts.username:
            raise ValueError(f"expected only scheme://host:port (no path, no credentials), got '{item}'")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        out.append(f"{parts.scheme}://{host}:{port}")
    if not out:
        raise ValueError("expected at least one endpoint, e.g. http://127.0.0.1:2379")
    return tuple(out)


def parse_prefix(text: str) -> str:
    prefix = "/" + text.strip().strip("/")
    if prefix == "/" or any(c.isspace() for c in prefix):
        raise ValueError(f"expected a key prefix such as /supervisord, got '{text}'")
    return prefix


def parse_name(text: str) -> str:
    name = text.strip()
    if not name or "/" in name or any(c.isspace() for c in name):
        raise ValueError(f"expected a node name without '/' or spaces, got '{text}'")
    return name


def parse_api_url(text: str) -> str:
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise ValueError(f"expected http://host:port (no credentials), got '{text}'")
    return text.strip().rstrip("/")


def _existing_file(ctx: LoadContext, text: str) -> str:
    path = v.absolute_path(text.strip(), ctx.cwd)
    if not os.path.isfile(path):
        raise ValueError(f"expected an existing file, got '{text}'")
    return path


def fleet_section(
    ctx: LoadContext, doc: IniDocument, identifier: str, inet: InetHttpServerConfig | None
) -> FleetConfig | None:
    section = doc.get("fleet")
    if section is None:
        return None
    r = SectionReader(section)
    ctx.warn_unknown_keys(r, FLEET_KEYS)
    names = ctx.node_names()
    if r.string("etcd", names) is None:
        raise r.error("section [fleet] has no etcd value (expected etcd = http://host:2379[,...])", "etcd")
    if inet is None:
        raise r.error("section [fleet] needs an [inet_http_server] (the API other nodes call)")
    username, password = r.string("username", names), r.string("password", names)
    if (username is None) != (password is None):
        raise r.error(
            "section [fleet] has a username without a password or the reverse (give both or neither)",
            "username" if password is None else "password",
        )
    certfile = r.parse("certfile", lambda t: _existing_file(ctx, t), names, None)
    keyfile = r.parse("keyfile", lambda t: _existing_file(ctx, t), names, None)
    if (certfile is None) != (keyfile is None):
        raise r.error(
            "section [fleet] needs certfile and keyfile together",
            "certfile" if certfile is None else "keyfile",
        )
    if inet.username and (inet.password or "").startswith("{SHA}"):
        # Fundamental, not a gap: a forwarded call authenticates to the other node with this node's API
        # account, and a hash cannot be sent as the password it hides (sending the hash itself would make
        # the hash a password). The nodes of a fleet share one API account, written in plain text.
        server = doc.get("inet_http_server")
        assert server is not None  # inet was read from it
        raise SectionReader(server).error(
            "[fleet] forwards calls to other nodes with this account, so its password must be in plain "
            "text, not {SHA} (a hash cannot be sent as a password; see docs/fleet.md)",
            "password",
        )
    host = inet.host if inet.host not in ("", "*", "0.0.0.0", "::") else ctx.node
    default_url = f"http://{host if ':' not in host else '[' + host + ']'}:{inet.port}"
    return FleetConfig(
        etcd=r.parse("etcd", parse_endpoints, names, ()),
        name=r.parse("name", parse_name, names, identifier),
        ttl=r.parse("ttl", v.int_at_least(1), names, 10),
        prefix=r.parse("prefix", parse_prefix, names, "/supervisord"),
        username=username,
        password=password,
        cafile=r.parse("cafile", lambda t: _existing_file(ctx, t), names, None),
        certfile=certfile,
        keyfile=keyfile,
        shared_programs=r.parse("shared_programs", v.parse_bool, names, False),
        url=r.parse("url", parse_api_url, names, default_url),
        offline_keep=r.parse("offline_keep", v.int_at_least(0), names, 300),
    )
