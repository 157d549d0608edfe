"""``%(name)s`` expansion of config values, with the names Supervisor offers at each location.

Supervisor applies Python %-formatting to values, so ``%(process_num)02d`` works and a literal ``%`` must
be written ``%%``. Plain ``value % mapping`` would silently accept a bare ``%s`` (formatting the whole
mapping), so this module scans the directives itself and formats each one separately: unknown names and
malformed directives become a ConfigError that lists the names available at that location.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable, Mapping

from supervisord.config.errors import ConfigError

ExpansionNames = Mapping[str, "str | int"]

# %% | %(name)<flags><width><.precision><conversion>
_DIRECTIVE = re.compile(
    r"%(?:(?P<percent>%)|\((?P<name>[^)]*)\)(?P<spec>[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]))"
)


def host_node_name() -> str:
    """What ``%(host_node_name)s`` expands to: the node name, as Supervisor's ``platform.node()``."""
    return platform.node()


def environ_names(*environs: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    """``ENV_<NAME>`` entries for each variable; later sources override earlier ones."""
    names: dict[str, str] = {}
    for source in environs:
        items = source.items() if isinstance(source, Mapping) else source
        for key, value in items:
            names[f"ENV_{key}"] = value
    return names


def describe_names(names: ExpansionNames) -> str:
    """The available names for an error message; a long ``ENV_*`` list is summarised."""
    plain = sorted(name for name in names if not name.startswith("ENV_"))
    env = sorted(name for name in names if name.startswith("ENV_"))
    if len(env) > 20:
        plain.append(f"ENV_* ({len(env)} environment variables)")
    else:
        plain.extend(env)
    return ", ".join(plain) or "(none)"


def expand(
    value: str,
    names: ExpansionNames,
    *,
    file: str | None = None,
    line: int | None = None,
    section: str | None = None,
    key: str | None = None,
) -> str:
    """Expand every ``%(name)…`` directive and ``%%`` in ``value`` using ``names``."""

    def fail(message: str) -> ConfigError:
        return ConfigError(message, file=file, line=line, section=section, key=key)

    out: list[str] = []
    unknown: list[str] = []
    pos = 0
    while True:
        index = value.find("%", pos)
        if index < 0:
            out.append(value[pos:])
            break
        out.append(value[pos:index])
        match = _DIRECTIVE.match(value, index)
        if match is None:
            raise fail(
                f"expected '%(name)s' or '%%' (write a literal percent sign as '%%'), "
                f"got '{value[index : index + 12]}' in '{value}'"
            )
        pos = match.end()
        if match.group("percent"):
            out.append("%")
            continue
        name = match.group("name")
        if name not in names:
            if name not in unknown:
                unknown.append(name)
            continue
        try:
            out.append(("%" + match.group("spec")) % (names[name],))
        except (TypeError, ValueError) as exc:
            raise fail(
                f"cannot format %({name}){match.group('spec')} with {names[name]!r} in '{value}': {exc}"
            ) from None
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        available = describe_names(names)
        raise fail(
            f"Format string '{value}' contains names ({listed}) which cannot be expanded. "
            f"Available names: {available}"
        )
    return "".join(out)
