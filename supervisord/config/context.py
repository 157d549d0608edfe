"""The state one :func:`~supervisord.config.loader.load_config` call shares between the section modules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from supervisord.config.expand import environ_names, host_node_name
from supervisord.config.section import SectionReader


@dataclass
class LoadContext:
    """Where the config lives, what ``%(ENV_X)s``/``%(host_node_name)s`` mean, and what to warn about.

    Warnings are collected rather than raised: an unknown key should be visible, but must not stop a working
    daemon. ``dotenv_cache`` makes each ``envFiles`` file read once per load, however many processes use it.
    """

    path: str
    environ: Mapping[str, str]
    cwd: str
    warnings: list[str] = field(default_factory=list)
    node: str = field(default_factory=host_node_name)
    dotenv_cache: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def env_names(self) -> dict[str, str]:
        """``ENV_*`` expansion names from the loader's environment."""
        return environ_names(self.environ)

    def node_names(self) -> dict[str, str]:
        """``ENV_*`` plus ``host_node_name``: what section-wide keys outside programs may expand."""
        return {"host_node_name": self.node, **self.env_names()}

    def warn_unknown_keys(self, reader: SectionReader, known: frozenset[str] | set[str]) -> None:
        self.warnings.extend(reader.unknown_key_warnings(known))
