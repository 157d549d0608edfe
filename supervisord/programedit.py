"""The program editor's changes, as functions from one config text to the next.

A program is edited as the text of its ``[program:x]`` section (the keys, one per line, as a person writes
them), so every key Supervisor knows can be set and comments survive. Each function returns the whole new
text; :meth:`supervisord.configsource.ConfigSource.write` then loads it with the same loader the daemon uses
before anything is written, so an edit that breaks the config (a bad value, a group naming a deleted
program) is refused with the loader's own message.
"""

from __future__ import annotations

import re

from supervisord.config import textedit
from supervisord.configsource import EditRefused

NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class NoSuchProgram(EditRefused):
    pass


class ProgramExists(EditRefused):
    pass


def programs(text: str) -> list[dict[str, object]]:
    """Every ``[program:x]`` of the document: name, section text and header line (1-based)."""
    found = []
    for block in textedit.blocks(text):
        if block.name is not None and block.name.startswith("program:"):
            found.append(
                {
                    "name": block.name.partition(":")[2],
                    "text": textedit.section_text(text, block),
                    "line": block.start + 1,
                }
            )
    return found


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise EditRefused(f"bad program name {name!r} (expected letters, digits, '.', '_' or '-')")
    return name


def check_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise EditRefused("expected the program's keys as text, e.g. 'command = /bin/cat'")
    for line in body.splitlines():
        if line.lstrip().startswith("["):
            raise EditRefused(f"the program's text must not contain a section header: {line.strip()!r}")
    return body


def _one(text: str, name: str) -> textedit.Block:
    found = textedit.find(text, f"program:{name}")
    if not found:
        raise NoSuchProgram(f"no [program:{name}] in the config")
    if len(found) > 1:
        raise EditRefused(f"[program:{name}] is written {len(found)} times; merge them by hand first")
    return found[0]


def add(text: str, name: str, body: str) -> str:
    check_name(name)
    if textedit.find(text, f"program:{name}"):
        raise ProgramExists(f"[program:{name}] exists already")
    return textedit.append(text, f"program:{name}", check_body(body))


def modify(text: str, name: str, body: str) -> str:
    return textedit.replace(text, _one(text, check_name(name)), f"program:{name}", check_body(body))


def delete(text: str, name: str) -> str:
    return textedit.remove(text, _one(text, check_name(name)))


def copy(text: str, name: str, new_name: str) -> str:
    body = textedit.section_text(text, _one(text, check_name(name)))
    return add(text, new_name, body)
