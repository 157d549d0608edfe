"""The last good config from Nacos, kept on local disk for a start-up while Nacos is down.

One JSON file per (namespace, group, dataId) under the cache directory: the content, its MD5 and when it was
saved. It is written atomically (a temporary file renamed over the old one) and only with a config that
loaded, so a crash or a broken publish can never leave a cache the daemon would refuse to start from. A file
whose MD5 does not match its content is ignored (with the reason), never used.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass

from supervisord.atomicfile import write_atomic
from supervisord.nacos.settings import NacosSettings, md5_hex


@dataclass(frozen=True)
class Cached:
    content: str
    md5: str
    saved: float
    path: str


def cache_path(settings: NacosSettings) -> str:
    parts = (settings.tenant or "public", settings.group, settings.data_id)
    name = "+".join(re.sub(r"[^A-Za-z0-9._-]", "_", part) for part in parts)
    return os.path.join(settings.cache_dir, name + ".json")


def save(settings: NacosSettings, content: str, md5: str) -> str:
    path = cache_path(settings)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    record: dict[str, object] = {"dataId": settings.data_id, "group": settings.group}
    record["namespace"] = settings.namespace
    record.update({"md5": md5, "saved": time.time(), "content": content})
    write_atomic(path, json.dumps(record, ensure_ascii=False, indent=1))
    return path


def load(settings: NacosSettings) -> Cached:
    """The cached config; OSError/ValueError (with the reason) when there is none usable."""
    path = cache_path(settings)
    with open(path, encoding="utf-8") as fh:
        record = json.load(fh)
    if not isinstance(record, dict) or not isinstance(record.get("content"), str):
        raise ValueError(f"{path}: not a cache record")
    content = record["content"]
    if md5_hex(content) != record.get("md5"):
        raise ValueError(f"{path}: the content does not match its MD5 (damaged), not used")
    return Cached(content, record["md5"], float(record.get("saved", 0)), path)
