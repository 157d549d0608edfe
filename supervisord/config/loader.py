"""Load a Supervisor-style config file (plus its includes) into the typed model.

This module finds the file, merges ``[include]`` files into it and decides which sections exist; each kind
of section is read by its own module (:mod:`~supervisord.config.server_sections`,
:mod:`~supervisord.config.programs`, :mod:`~supervisord.config.groups`). The result is a frozen
:class:`~supervisord.config.model.Config`; any problem is a
:class:`~supervisord.config.errors.ConfigError` with the file and line of the offending key, and keys we
do not understand become warnings (a typo should be visible, but must not stop a working daemon).
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Mapping, Sequence

from supervisord.config.context import LoadContext
from supervisord.config.errors import ConfigError, report, skip_on_error
from supervisord.config.fleet_section import fleet_section
from supervisord.config.groups import build_groups
from supervisord.config.ini import IniDocument, parse_ini, read_ini
from supervisord.config.model import Config, SupervisordConfig
from supervisord.config.section import SectionReader
from supervisord.config.server_sections import (
    inet_http_server_section,
    supervisorctl_section,
    supervisord_section,
    unix_http_server_section,
)

__all__ = ["SYSTEM_CONFIG_PATHS", "candidate_paths", "find_config", "load_config", "load_config_text"]

# Checked at call time so tests (and packagers) can redirect the system-wide locations.
SYSTEM_CONFIG_PATHS: tuple[str, ...] = ("/etc/supervisord.conf", "/etc/supervisor/supervisord.conf")

INCLUDE_KEYS = frozenset({"files"})
_PLAIN_SECTIONS = frozenset(
    {"supervisord", "inet_http_server", "unix_http_server", "supervisorctl", "include", "program-default"}
) | {"fleet"}
_BOOTSTRAP_SECTIONS = frozenset({"nacos"})  # read before the config by supervisord.nacos.settings
_PREFIXED_SECTIONS = frozenset({"program", "eventlistener", "group", "rpcinterface", "ctlplugin"})


def candidate_paths(cwd: str, executable: str) -> list[str]:
    """Where to look for a config file without ``-c``, in order (the Go README's list)."""
    paths = [
        os.path.join(cwd, "supervisord.conf"),
        os.path.join(cwd, "etc", "supervisord.conf"),
        *SYSTEM_CONFIG_PATHS,
    ]
    exe_dir = _executable_dir(executable, cwd)
    if exe_dir is not None:
        paths.append(os.path.normpath(os.path.join(exe_dir, "..", "etc", "supervisord.conf")))
        paths.append(os.path.normpath(os.path.join(exe_dir, "..", "supervisord.conf")))
    return paths


def _executable_dir(executable: str, cwd: str) -> str | None:
    """The directory holding the running program; a bare name is looked up on PATH like the shell did."""
    if not executable:
        return None
    if os.sep not in executable:
        found = shutil.which(executable)
        if found is None:
            return None
        executable = found
    return os.path.dirname(os.path.abspath(os.path.join(cwd, executable)))


def find_config(cwd: str, executable: str) -> str | None:
    """The first existing file of :func:`candidate_paths`, or None."""
    for path in candidate_paths(cwd, executable):
        if os.path.isfile(path):
            return path
    return None


def load_config(
    path: str,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    shared: Sequence[tuple[str, str]] = (),
) -> Config:
    """Parse ``path`` and its includes into a :class:`Config`.

    ``environ`` feeds ``%(ENV_X)s`` (default ``os.environ``); ``cwd`` is what relative log, pid and socket
    paths are resolved against (default the current directory), as Supervisor resolves them. ``shared`` are
    the fleet's shared programs, (source, INI text) pairs, merged in when ``[fleet] shared_programs`` is on.
    """
    base = os.getcwd() if cwd is None else os.path.abspath(cwd)
    env = dict(os.environ if environ is None else environ)
    main = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
    ctx = LoadContext(main, env, base)
    doc = read_ini(ctx.path)
    included, patterns = _merge_includes(ctx, doc)
    if shared and _shared_wanted(doc):
        _merge_shared(ctx, doc, shared)
    return _build(ctx, doc, included, patterns)


def load_config_text(
    text: str, name: str, *, environ: Mapping[str, str] | None = None, cwd: str | None = None
) -> Config:
    """Parse a config held in memory (from Nacos, or an edit not yet written) as :func:`load_config` would.

    ``name`` is a virtual file name (``nacos:supervisord.conf``) that every error and warning is located
    in. Such a document must stand alone: an ``[include]`` is refused, because files on this host are not
    part of what the config centre (or the editor) validated and published.
    """
    base = os.getcwd() if cwd is None else os.path.abspath(cwd)
    ctx = LoadContext(name, dict(os.environ if environ is None else environ), base)
    doc = parse_ini(text, name)
    section = doc.get("include")
    if section is not None:
        raise SectionReader(section).error(
            "[include] is not supported in a config held in memory (expected one self-contained document)"
        )
    return _build(ctx, doc, (), ())


def _build(
    ctx: LoadContext, doc: IniDocument, included: tuple[str, ...], patterns: tuple[str, ...]
) -> Config:
    _check_sections(ctx, doc)
    section = doc.get("supervisord")
    if section is None:
        report(
            ConfigError(
                ".ini file does not include supervisord section (expected a [supervisord] section)",
                file=ctx.path,
            )
        )
        supervisord = SupervisordConfig()  # only reached while collecting: check the rest against defaults
    else:
        supervisord = supervisord_section(ctx, SectionReader(section))
    groups = build_groups(ctx, doc, supervisord)
    inet = inet_http_server_section(ctx, doc)
    return Config(
        path=ctx.path,
        supervisord=supervisord,
        groups=groups,
        inet_http_server=inet,
        unix_http_server=unix_http_server_section(ctx, doc),
        supervisorctl=supervisorctl_section(ctx, doc),
        included_files=included,
        include_patterns=patterns,
        warnings=tuple(dict.fromkeys(ctx.warnings)),
        fleet=fleet_section(ctx, doc, supervisord.identifier, inet),
    )


def _shared_wanted(doc: IniDocument) -> bool:
    section = doc.get("fleet")
    value = section.get("shared_programs") if section is not None else None
    return value is not None and value.value.strip().lower() in ("true", "yes", "on", "1")


def _merge_shared(ctx: LoadContext, doc: IniDocument, shared: Sequence[tuple[str, str]]) -> None:
    """The fleet's shared programs: only ``[program:x]`` sections, and the local file wins a clash."""
    for source, text in shared:
        for section in parse_ini(text, source):
            if not section.name.startswith("program:"):
                raise ConfigError(
                    f"[{section.name}] a shared config may only define [program:x] sections",
                    file=section.file,
                    line=section.line,
                )
            if section.name in doc:
                ctx.warnings.append(
                    f"{section.file}:{section.line}: [{section.name}] is local; the shared one is ignored"
                )
                continue
            doc.merge_section(section)


def _merge_includes(ctx: LoadContext, doc: IniDocument) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Read ``[include] files`` globs (relative to the main file) and merge those files into ``doc``.

    Returns the included files and the absolute globs they came from.
    """
    section = doc.get("include")
    if section is None:
        return (), ()
    reader = SectionReader(section)
    ctx.warn_unknown_keys(reader, INCLUDE_KEYS)
    text = reader.expanded("files", ctx.node_names())
    if text is None or not text.strip():
        report(
            reader.error("[include] section must define files (expected space-separated file globs)", "files")
        )
        return (), ()
    base_dir = reader.here("files")
    included: list[str] = []
    patterns: list[str] = []
    for pattern in text.split():
        full = os.path.normpath(os.path.join(base_dir, os.path.expanduser(pattern)))
        patterns.append(full)
        matches = sorted(match for match in glob.glob(full) if os.path.isfile(match))
        if not matches:
            ctx.warnings.append(reader.warning("files", f'No file matches via include "{pattern}"'))
        for match in matches:
            absolute = os.path.abspath(match)
            if absolute != ctx.path and absolute not in included:
                included.append(absolute)
    for file in included:
        sub_doc = IniDocument()
        with skip_on_error():
            sub_doc = read_ini(file)
        for sub in sub_doc:
            if sub.name == "include":
                ctx.warnings.append(
                    f"{sub.file}:{sub.line}: [include] nested includes are not processed, ignored"
                )
                continue
            doc.merge_section(sub)
    return tuple(included), tuple(patterns)


def _check_sections(ctx: LoadContext, doc: IniDocument) -> None:
    """Reject unsupported sections and warn about ones nothing reads."""
    for section in doc:
        kind, sep, _ = section.name.partition(":")
        if section.name in _PLAIN_SECTIONS | _BOOTSTRAP_SECTIONS or (sep and kind in _PREFIXED_SECTIONS):
            continue
        if sep and kind == "fcgi-program":
            report(
                SectionReader(section).error(
                    "fcgi-program sections are not supported (expected [program:x] instead)"
                )
            )
            continue
        ctx.warnings.append(f"{section.file}:{section.line}: [{section.name}] unknown section, ignored")
