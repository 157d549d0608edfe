"""Process groups: ``[group:g]`` sections, one implicit group per ungrouped program, and ``depends_on``.

This is where sections that were each valid on their own are checked against each other: group members
must name programs, group and process names must be unique, and the ``depends_on`` graph must be acyclic,
so the runtime never has to cope with a start order that cannot exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from supervisord.config import values as v
from supervisord.config.context import LoadContext
from supervisord.config.errors import ConfigError, report, skip_on_error
from supervisord.config.ini import IniDocument
from supervisord.config.model import GroupConfig, GroupKind, ProcessConfig, SupervisordConfig
from supervisord.config.programs import ProgramSection, build_pool, build_processes, program_sections
from supervisord.config.section import SectionReader, parse_section_name

GROUP_KEYS = frozenset({"programs", "priority"})
_NO_NAMES: tuple[str, ...] = ()


@dataclass(frozen=True)
class _GroupSection:
    """A ``[group:g]`` section: its members are validated program names, in the order written."""

    name: str
    priority: int
    members: tuple[str, ...]
    reader: SectionReader


def build_groups(ctx: LoadContext, doc: IniDocument, sup: SupervisordConfig) -> tuple[GroupConfig, ...]:
    """Every group the daemon will run, sorted by (priority, name) as Supervisor starts them."""
    programs = program_sections(ctx, doc)
    group_sections = _group_sections(ctx, doc, programs)
    grouped = {member for group in group_sections for member in group.members}
    groups: list[GroupConfig] = []
    seen: dict[str, str] = {}

    def claim(name: str, section: SectionReader) -> None:
        if name in seen:
            raise section.error(
                f"duplicate group name '{name}' (already defined by [{seen[name]}]; "
                "expected unique group names)"
            )
        seen[name] = section.name

    # Each group is one step: while collecting errors (``supervisord check``) a bad one is skipped.
    for group in group_sections:
        with skip_on_error():
            claim(group.name, group.reader)
            processes: list[ProcessConfig] = []
            for member in group.members:
                processes.extend(build_processes(ctx, programs[member], group.name, sup))
            _check_unique_processes(group.name, processes, group.reader)
            processes.sort(key=lambda proc: proc.priority)
            groups.append(GroupConfig(group.name, GroupKind.GROUP, group.priority, tuple(processes)))
    for program in programs.values():
        if program.name in grouped and not program.listener:
            continue
        with skip_on_error():
            claim(program.name, program.reader)
            processes = build_processes(ctx, program, program.name, sup)
            _check_unique_processes(program.name, processes, program.reader)
            pool = build_pool(ctx, program) if program.listener else None
            kind = GroupKind.EVENTLISTENER if program.listener else GroupKind.PROGRAM
            groups.append(GroupConfig(program.name, kind, processes[0].priority, tuple(processes), pool))
    with skip_on_error():
        _check_depends_on(programs, groups)
    groups.sort(key=lambda group: (group.priority, group.name))
    return tuple(groups)


def _group_sections(
    ctx: LoadContext, doc: IniDocument, programs: Mapping[str, ProgramSection]
) -> list[_GroupSection]:
    """``[group:g]`` sections whose members all name ``[program:x]`` sections."""
    result: list[_GroupSection] = []
    names = ctx.node_names()
    for section in doc:
        kind, sep, suffix = section.name.partition(":")
        if not sep or kind != "group":
            continue
        name = parse_section_name(section, suffix)
        if name is None:
            continue
        r = SectionReader(section)
        ctx.warn_unknown_keys(r, GROUP_KEYS)
        members = tuple(dict.fromkeys(r.parse("programs", v.parse_list, names, _NO_NAMES)))
        unknown = [m for m in members if m not in programs or programs[m].listener]
        for member in unknown:
            value = r.raw("programs")
            known = ", ".join(sorted(p.name for p in programs.values() if not p.listener)) or "(none)"
            report(
                ConfigError(
                    f"[group:{name}] names unknown program {member} (expected one of: {known})",
                    file=value.file if value else section.file,
                    line=value.line if value else section.line,
                )
            )
        if unknown:
            continue
        priority = r.parse("priority", v.parse_int, names, 999)
        result.append(_GroupSection(name, priority, members, r))
    return result


def _check_unique_processes(group: str, processes: Sequence[ProcessConfig], r: SectionReader) -> None:
    seen: set[str] = set()
    for proc in processes:
        if proc.name in seen:
            raise r.error(
                f"duplicate process name '{proc.name}' in group '{group}' (expected unique process names)"
            )
        seen.add(proc.name)


def _check_depends_on(programs: Mapping[str, ProgramSection], groups: Sequence[GroupConfig]) -> None:
    """Every ``depends_on`` target must be a program, and the graph must be acyclic."""
    edges: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for proc in group.processes:
            edges.setdefault(proc.program_name, proc.depends_on)
    for name, targets in edges.items():
        for target in targets:
            program = programs.get(target)
            if program is None or program.listener:
                raise programs[name].reader.error(
                    f"expected names of [program:x] sections, got unknown program '{target}'",
                    "depends_on",
                )
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in edges.get(node, ()):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise programs[node].reader.error(
                    f"dependency cycle: {' -> '.join(cycle)} (expected depends_on without cycles)",
                    "depends_on",
                )
            if target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for name in edges:
        if name not in state:
            visit(name)
