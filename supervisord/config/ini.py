"""A small INI reader that remembers where every section and key came from.

``configparser`` forgets the file and line of a value, so an error found while *validating* a value could
only say "somewhere in the config". This reader keeps both, which lets every
:class:`~supervisord.config.errors.ConfigError` point at the exact line. It follows the dialect Supervisor
gets from ``RawConfigParser(inline_comment_prefixes=(';', '#'), strict=False)``:

* ``key = value`` or ``key: value`` (the first ``=`` or ``:`` separates);
* full-line comments start with ``;`` or ``#``; inline comments need whitespace before the marker;
* indented lines continue the previous value (joined with ``\\n``);
* duplicate sections and keys merge, the later key winning;
* keys are case-insensitive (lower-cased), section names are case-sensitive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from supervisord.config.errors import ConfigError, report

_COMMENT_PREFIXES = (";", "#")


@dataclass
class IniValue:
    """One key's raw (unexpanded) text and the place it was written."""

    value: str
    file: str
    line: int


@dataclass
class IniSection:
    """A section's keys in file order; ``file``/``line`` are those of its first header."""

    name: str
    file: str
    line: int
    values: dict[str, IniValue] = field(default_factory=dict)

    def get(self, key: str) -> IniValue | None:
        return self.values.get(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)


@dataclass
class IniDocument:
    """All sections of one or more merged files, in first-seen order."""

    sections: dict[str, IniSection] = field(default_factory=dict)

    def get(self, name: str) -> IniSection | None:
        return self.sections.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.sections

    def __iter__(self) -> Iterator[IniSection]:
        return iter(self.sections.values())

    def merge_section(self, section: IniSection) -> None:
        """Add ``section``; if the name exists already its keys merge in, later values winning."""
        existing = self.sections.get(section.name)
        if existing is None:
            self.sections[section.name] = IniSection(
                section.name, section.file, section.line, dict(section.values)
            )
        else:
            existing.values.update(section.values)

    def merge(self, other: IniDocument) -> None:
        for section in other:
            self.merge_section(section)


def _strip_inline_comment(line: str) -> str:
    """Cut the line at the first ``;``/``#`` that follows whitespace (``a;b`` and ``url#frag`` survive)."""
    for index, char in enumerate(line):
        if char in _COMMENT_PREFIXES and index > 0 and line[index - 1].isspace():
            return line[:index]
    return line


def _split_key_value(text: str) -> tuple[str, str] | None:
    """Split at the first ``=`` or ``:``; None if the line has neither."""
    positions = [pos for pos in (text.find("="), text.find(":")) if pos >= 0]
    if not positions:
        return None
    pos = min(positions)
    return text[:pos].strip(), text[pos + 1 :].strip()


def parse_ini(text: str, file: str) -> IniDocument:
    """Parse INI ``text`` read from ``file`` (the name is only used for locations and errors)."""
    doc = IniDocument()
    current: IniSection | None = None
    # The key whose value indented lines continue, and blank lines seen since (kept only if more follows).
    cont_key: IniValue | None = None
    pending_blank = 0
    if text.startswith("\ufeff"):
        text = text[1:]
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            if cont_key is not None:
                pending_blank += 1
            continue
        if stripped[0] in _COMMENT_PREFIXES:
            continue
        content = _strip_inline_comment(raw).rstrip()
        indented = raw[0].isspace()
        if indented and cont_key is not None:
            separator = "\n" * (pending_blank + 1) if cont_key.value else ""
            cont_key.value += separator + content.strip()
            pending_blank = 0
            continue
        pending_blank = 0
        body = content.strip()
        if body.startswith("["):
            if not body.endswith("]") or len(body) < 3:
                report(
                    ConfigError(
                        f"expected a section header like '[name]', got '{body}'", file=file, line=lineno
                    )
                )
                current, cont_key = IniSection("", file, lineno), None  # outside doc: its keys are skipped
                continue
            name = body[1:-1].strip()
            if not name:
                report(ConfigError("expected a section name inside '[]', got '[]'", file=file, line=lineno))
                current, cont_key = IniSection("", file, lineno), None
                continue
            current = doc.sections.get(name)
            if current is None:
                current = IniSection(name, file, lineno)
                doc.sections[name] = current
            cont_key = None
            continue
        if current is None:
            report(
                ConfigError(
                    f"expected a section header like '[supervisord]' before any key, got '{body}'",
                    file=file,
                    line=lineno,
                )
            )
            continue
        pair = _split_key_value(body)
        if pair is None or not pair[0]:
            expected = "'key = value' or 'key: value'" if pair is None else "a key name before '=' or ':'"
            report(
                ConfigError(
                    f"expected {expected}, got '{body}'", file=file, line=lineno, section=current.name
                )
            )
            cont_key = None
            continue
        key, value = pair
        cont_key = IniValue(value, file, lineno)
        current.values[key.lower()] = cont_key
    return doc


def read_ini(path: str) -> IniDocument:
    """Read and parse one file; an unreadable file is a ConfigError naming it."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"expected UTF-8 text, got undecodable bytes ({exc.reason})", file=path) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror or exc}", file=path) from exc
    return parse_ini(text, path)
