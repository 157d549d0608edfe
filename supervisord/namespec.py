"""Supervisor's process names (``name``, ``group:name``, ``group:*``, ``group:``), parsed in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NameSpec:
    """A parsed namespec: ``name`` is None when the spec names the whole ``group``."""

    group: str
    name: str | None

    @property
    def is_group(self) -> bool:
        return self.name is None

    def __str__(self) -> str:
        if self.name is None:
            return f"{self.group}:*"
        return make(self.group, self.name)


def parse(spec: str) -> NameSpec:
    """``g:p`` → (g, p); ``g:`` and ``g:*`` → (g, None); ``x`` → (x, x), a program in its own group."""
    group, sep, name = spec.partition(":")
    if not sep:
        return NameSpec(spec, spec)
    if name in ("", "*"):
        return NameSpec(group, None)
    return NameSpec(group, name)


def split(spec: str) -> tuple[str, str | None]:
    """:func:`parse` as a ``(group, name)`` pair."""
    parsed = parse(spec)
    return parsed.group, parsed.name


def make(group: str, name: str) -> str:
    """The name Supervisor prints: ``name`` for a program alone in its own group, else ``group:name``."""
    return name if group == name else f"{group}:{name}"
