"""Which Nacos to read the config from: command-line flags, then environment variables, then ``[nacos]``.

The ``[nacos]`` section lives in the local config file (the *bootstrap*): that file is what the daemon finds
with ``-c`` or at the default paths, and the GUI's Nacos dialog writes this section there. When server and
dataId are known from any of the three places, the config the daemon runs comes from Nacos, not from the
rest of that file; the flags win over the environment, which wins over the file (a container image can ship
a bootstrap and be pointed elsewhere by its environment).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from supervisord.config.errors import ConfigError
from supervisord.config.ini import IniSection

DEFAULT_GROUP = "DEFAULT_GROUP"
# key in [nacos] / suffix of the environment variable / attribute
KEYS = ("server", "dataid", "namespace", "group", "username", "password", "not_use_cache", "cache_dir")
ENV_PREFIX = "SUPERVISORD_NACOS_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def default_cache_dir(environ: Mapping[str, str]) -> str:
    """Per user: ``$XDG_CACHE_HOME/supervisord/nacos`` or ``~/.cache/supervisord/nacos``."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "supervisord", "nacos")


def md5_hex(text: str) -> str:
    """Nacos's MD5 of a config: of its UTF-8 bytes, lower-case hex."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NacosSettings:
    servers: tuple[str, ...] = ()
    data_id: str = ""
    namespace: str = ""
    group: str = DEFAULT_GROUP
    username: str = ""
    password: str = field(default="", repr=False)
    use_cache: bool = True
    cache_dir: str = ""
    origin: str = ""  # where server/dataId came from: flags, environment or the bootstrap file

    @property
    def enabled(self) -> bool:
        return bool(self.servers and self.data_id)

    @property
    def tenant(self) -> str:
        """Nacos 1.x/2.x call the public namespace ``""`` on the wire; ``public`` is accepted as its name."""
        return "" if self.namespace in ("", "public") else self.namespace

    @property
    def name(self) -> str:
        """The virtual file name every location in this config uses: ``nacos:<dataId>``."""
        return f"nacos:{self.data_id}"

    def public(self) -> dict[str, object]:
        """What the GUI may show (never the password)."""
        return {
            "server": ",".join(s.removeprefix("http://") for s in self.servers),
            "dataid": self.data_id,
            "namespace": self.namespace,
            "group": self.group,
            "username": self.username,
            "has_password": bool(self.password),
            "not_use_cache": not self.use_cache,
            "cache_dir": self.cache_dir,
            "origin": self.origin,
        }


def parse_servers(value: str) -> tuple[str, ...]:
    """``IP:PORT[,IP:PORT…]`` (an ``http://`` prefix allowed); a bad entry is a ValueError naming it."""
    servers = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        host = item.split("://", 1)[-1].rstrip("/")
        name, sep, port = host.rpartition(":")
        if not sep or not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected IP:PORT, got {item!r}")
        servers.append(item if "://" in item else f"http://{host}")
    return tuple(servers)


def parse_bool(value: str, what: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{what}: expected true or false, got {value!r}")


def resolve(
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    section: IniSection | None,
) -> NacosSettings:
    """Merge the three places, key by key (flags first); a bad value is a ConfigError saying where it was."""
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    if section is not None:
        unknown = [key for key in section if key not in KEYS]
        if unknown:
            value = section.values[unknown[0]]
            raise ConfigError(
                f"unknown key (expected one of {', '.join(KEYS)})",
                file=value.file,
                line=value.line,
                section="nacos",
                key=unknown[0],
            )
        for key in KEYS:
            found = section.get(key)
            if found is not None:
                values[key], origins[key] = found.value, f"{found.file}:{found.line}"
    for key in KEYS:
        if ENV_PREFIX + key.upper() in environ:
            values[key], origins[key] = environ[ENV_PREFIX + key.upper()], f"${ENV_PREFIX}{key.upper()}"
        given = flags.get(key)
        if given is not None:
            values[key], origins[key] = given, f"--nacos-{key.replace('_', '-')}"

    def where(key: str) -> str:
        return origins.get(key, "")

    try:
        servers = parse_servers(values.get("server", ""))
    except ValueError as exc:
        raise ConfigError(f"nacos server ({where('server')}): {exc}") from None
    try:
        not_use_cache = parse_bool(values.get("not_use_cache", ""), "not_use_cache")
    except ValueError as exc:
        raise ConfigError(f"nacos ({where('not_use_cache')}): {exc}") from None
    data_id = values.get("dataid", "").strip()
    if servers and not data_id:
        raise ConfigError(f"a Nacos server is set ({where('server')}) but no dataId (--nacos-dataid)")
    if data_id and not servers:
        raise ConfigError(f"a Nacos dataId is set ({where('dataid')}) but no server (--nacos-server)")
    return NacosSettings(
        servers=servers,
        data_id=data_id,
        namespace=values.get("namespace", "").strip(),
        group=values.get("group", "").strip() or DEFAULT_GROUP,
        username=values.get("username", "").strip(),
        password=values.get("password", ""),
        use_cache=not not_use_cache,
        cache_dir=os.path.expanduser(values.get("cache_dir", "").strip()) or default_cache_dir(environ),
        origin=where("server"),
    )


def section_body(values: Mapping[str, object]) -> str:
    """The ``[nacos]`` keys the GUI saves, as INI lines (empty values left out)."""
    lines = []
    for key in KEYS:
        value = values.get(key)
        if value is None or value == "" or value is False:
            continue
        if value is True:
            value = "true"
        text = str(value)
        if "\n" in text or "\r" in text:
            raise ValueError(f"{key}: expected one line")
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"
