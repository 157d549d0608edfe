"""What talking to Nacos can fail with (kept apart from the client, so that catching them imports no HTTP
library: a daemon that does not use Nacos never loads ``requests``)."""

from __future__ import annotations


class NacosError(Exception):
    """Nacos could not be asked (every server failed) or answered something unusable."""


class NacosUnavailable(NacosError):
    pass


class NacosNotFound(NacosError):
    pass


class NacosConflict(NacosError):
    """A compare-and-set publish found another MD5 than ours: someone else published first."""


class NacosDenied(NacosError):
    """Login refused, or a token the server will not accept even fresh (403)."""
