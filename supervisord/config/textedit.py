"""Edit one section of an INI document as text, leaving every other line (comments included) untouched.

The program editor and the Nacos dialog change a config that a person also edits by hand, so they must not
re-serialise the whole file: a section is the run of lines from its header to the next header, and an edit
replaces, removes or appends exactly such a run. Headers are found as the INI reader finds them (an
unindented line starting with ``[``); the result is always re-validated by the loader before it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^\[([^\]]*)\]\s*(?:[;#].*)?$")


@dataclass(frozen=True)
class Block:
    """Lines ``start``..``end`` (0-based, end exclusive) of section ``name`` (None: text before any)."""

    name: str | None
    start: int
    end: int


def blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    found: list[Block] = []
    name: str | None = None
    start = 0
    for index, line in enumerate(lines):
        match = _HEADER.match(line) if line[:1] == "[" else None
        if match is None:
            continue
        if index > start or name is not None:
            found.append(Block(name, start, index))
        name, start = match.group(1).strip(), index
    found.append(Block(name, start, len(lines)))
    return [b for b in found if b.name is not None or b.end > b.start]


def find(text: str, name: str) -> list[Block]:
    return [b for b in blocks(text) if b.name == name]


def section_text(text: str, block: Block) -> str:
    """The section's lines without its header, trailing blank lines dropped."""
    lines = text.splitlines()[block.start + 1 : block.end]
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + ("\n" if lines else "")


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def render(name: str, body: str) -> list[str]:
    return [f"[{name}]", *body.strip("\n").splitlines()]


def replace(text: str, block: Block, name: str, body: str) -> str:
    """``block`` rewritten as ``[name]`` + ``body``; one blank line is kept before the next section."""
    lines = text.splitlines()
    tail = lines[block.end :]
    new = render(name, body) + ([""] if tail else [])
    return _join(lines[: block.start] + new + tail)


def remove(text: str, block: Block) -> str:
    lines = text.splitlines()
    kept = lines[: block.start] + lines[block.end :]
    if block.end >= len(lines):  # it was the last section: no blank lines left dangling at the end
        while kept and not kept[-1].strip():
            kept.pop()
    return _join(kept)


def append(text: str, name: str, body: str) -> str:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return _join([*lines, *([""] if lines else []), *render(name, body)])
