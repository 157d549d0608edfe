"""Typed, located access to one INI section: the layer between raw text and the typed model.

Every key a section module reads goes through :class:`SectionReader`, so every error and warning names the
file and line the user has to edit, even when the key was inherited from ``[program-default]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

from supervisord.config import values as v
from supervisord.config.errors import ConfigError, report
from supervisord.config.expand import ExpansionNames, expand
from supervisord.config.ini import IniSection, IniValue

T = TypeVar("T")


class SectionReader:
    """Typed access to one section's raw values.

    ``values`` may mix the section's own keys with inherited ones (``[program-default]``); ``origins``
    names the section each inherited key really came from, so errors and warnings point there.
    """

    def __init__(
        self,
        section: IniSection,
        *,
        values: Mapping[str, IniValue] | None = None,
        origins: Mapping[str, str] | None = None,
    ) -> None:
        self.name = section.name
        self.file = section.file
        self.line = section.line
        self.values: Mapping[str, IniValue] = section.values if values is None else values
        self.origins: Mapping[str, str] = origins or {}

    def raw(self, key: str) -> IniValue | None:
        return self.values.get(key)

    def has(self, key: str) -> bool:
        return key in self.values

    def here(self, key: str | None = None) -> str:
        """The directory of the file holding ``key`` (or the section header)."""
        value = self.values.get(key) if key else None
        return os.path.dirname(value.file if value else self.file)

    def error(self, message: str, key: str | None = None) -> ConfigError:
        """A ConfigError located at ``key`` if it was written, else at the section header."""
        value = self.values.get(key) if key else None
        if value is None:
            return ConfigError(message, file=self.file, line=self.line, section=self.name, key=key)
        section = self.origins.get(key, self.name) if key else self.name
        return ConfigError(message, file=value.file, line=value.line, section=section, key=key)

    def expanded(self, key: str, names: ExpansionNames) -> str | None:
        """The key's text with ``%(…)`` expanded, or None when the key is absent."""
        value = self.values.get(key)
        if value is None:
            return None
        full: dict[str, str | int] = dict(names)
        full["here"] = os.path.dirname(value.file)
        section = self.origins.get(key, self.name)
        try:
            return expand(value.value, full, file=value.file, line=value.line, section=section, key=key)
        except ConfigError as exc:
            report(exc)  # only returns while collecting: the key then counts as absent
            return None

    def expand_default(self, text: str, names: ExpansionNames, key: str) -> str:
        """Expand a built-in default (e.g. ``%(program_name)s``) as if written in the section header."""
        full: dict[str, str | int] = dict(names)
        full["here"] = os.path.dirname(self.file)
        return expand(text, full, file=self.file, line=self.line, section=self.name, key=key)

    def parse(self, key: str, parser: Callable[[str], T], names: ExpansionNames, default: T) -> T:
        """Expand and parse ``key``; absent keys give ``default``; parser ValueErrors become ConfigErrors."""
        text = self.expanded(key, names)
        if text is None:
            return default
        try:
            return parser(text)
        except ValueError as exc:
            report(self.error(str(exc), key))  # only returns while collecting: fall back to the default
            return default

    def string(self, key: str, names: ExpansionNames, default: str | None = None) -> str | None:
        """An optional free-text value; an empty value counts as unset."""
        text = self.expanded(key, names)
        if text is None:
            return default
        text = text.strip()
        return text or None

    def checked_string(self, key: str, names: ExpansionNames, check: Callable[[str], object]) -> str | None:
        """Like :meth:`string`, but a written value must also pass ``check`` (e.g. a user that exists)."""
        text = self.string(key, names)
        if text is not None:
            self.parse(key, check, names, None)
        return text

    def unknown_key_warnings(self, known: frozenset[str] | set[str]) -> list[str]:
        """One worded warning per key this section type does not understand."""
        warnings = []
        for key, value in self.values.items():
            if key not in known:
                section = self.origins.get(key, self.name)
                warnings.append(f"{value.file}:{value.line}: [{section}] {key}: unknown key, ignored")
        return warnings

    def warning(self, key: str, message: str) -> str:
        """A worded warning located at ``key`` (or the section header when it was not written)."""
        value = self.values.get(key)
        section = self.origins.get(key, self.name)
        if value is None:
            return f"{self.file}:{self.line}: [{section}] {key}: {message}"
        return f"{value.file}:{value.line}: [{section}] {key}: {message}"


def parse_section_name(section: IniSection, suffix: str) -> str | None:
    """The ``x`` of ``[program:x]``/``[group:x]``, validated like a process name and located at the header.

    None (only while collecting errors) means the section is to be skipped.
    """
    try:
        return v.parse_name(suffix)
    except ValueError as exc:
        report(SectionReader(section).error(str(exc)))
        return None
