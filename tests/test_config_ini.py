"""The located INI reader: Supervisor's dialect, and a file and line for everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisord.config.errors import ConfigError
from supervisord.config.ini import IniDocument, IniSection, IniValue, parse_ini, read_ini


def values(text: str, section: str = "s") -> dict[str, str]:
    doc = parse_ini(text, "f.conf")
    sec = doc.get(section)
    assert sec is not None
    return {key: val.value for key, val in sec.values.items()}


def test_equals_and_colon_separators() -> None:
    assert values("[s]\na = 1\nb: 2\nc=3\nd:4\n") == {"a": "1", "b": "2", "c": "3", "d": "4"}


def test_first_separator_wins() -> None:
    assert values("[s]\nurl = http://x:80/\nk: a=b\n") == {"url": "http://x:80/", "k": "a=b"}


def test_empty_value_is_kept() -> None:
    assert values("[s]\nempty =\n") == {"empty": ""}


def test_full_line_comments() -> None:
    text = "; top\n# top\n[s]\n; c\n# c\n  ; indented comment\na = 1\n"
    assert values(text) == {"a": "1"}


def test_inline_comment_needs_whitespace_before_it() -> None:
    text = "[s]\na = 1 ; note\nb = 2\t# note\nc = x;y\nd = url#frag\n"
    assert values(text) == {"a": "1", "b": "2", "c": "x;y", "d": "url#frag"}


def test_section_header_with_inline_comment() -> None:
    doc = parse_ini("[program:x] ; the x\ncommand = y\n", "f")
    assert "program:x" in doc


def test_continuation_lines_join_with_newline() -> None:
    assert values("[s]\nenv = A=1,\n  B=2,\n\tC=3\nnext = n\n") == {"env": "A=1,\nB=2,\nC=3", "next": "n"}


def test_continuation_of_empty_first_value_has_no_leading_newline() -> None:
    assert values("[s]\nfiles =\n  a.conf\n  b.conf\n") == {"files": "a.conf\nb.conf"}


def test_blank_line_inside_continuation_kept_only_if_more_follows() -> None:
    assert values("[s]\na = 1\n\n  2\n\nb = 3\n\n") == {"a": "1\n\n2", "b": "3"}


def test_indented_key_after_header_is_a_key() -> None:
    assert values("[s]\n  a = 1\n") == {"a": "1"}


def test_keys_are_lowercased_sections_are_not() -> None:
    doc = parse_ini("[Program:X]\nenvFiles = a\nRestartPause = 1\n", "f")
    assert doc.get("program:x") is None
    sec = doc.get("Program:X")
    assert sec is not None
    assert list(sec.values) == ["envfiles", "restartpause"]
    assert "ENVFILES" in sec
    assert sec.get("EnvFiles") == IniValue("a", "f", 2)


def test_duplicate_sections_merge_and_later_key_wins() -> None:
    doc = parse_ini("[s]\na = 1\nb = 2\n[t]\nx = 0\n[s]\nb = 3\nc = 4\n", "f")
    sec = doc.get("s")
    assert sec is not None
    assert {k: v.value for k, v in sec.values.items()} == {"a": "1", "b": "3", "c": "4"}
    assert (sec.file, sec.line) == ("f", 1)
    assert sec.values["b"].line == 7
    assert [s.name for s in doc] == ["s", "t"]


def test_duplicate_key_in_one_section_later_wins() -> None:
    assert values("[s]\na = 1\na = 2\n") == {"a": "2"}


def test_locations_are_recorded() -> None:
    doc = parse_ini("\n[s]\n\na = 1\n[t]\nb = 2\n", "/x/y.conf")
    s, t = doc.get("s"), doc.get("t")
    assert s is not None and t is not None
    assert (s.file, s.line) == ("/x/y.conf", 2)
    assert s.values["a"] == IniValue("1", "/x/y.conf", 4)
    assert (t.line, t.values["b"].line) == (5, 6)


def test_bom_is_ignored() -> None:
    assert values("\ufeff[s]\na = 1\n") == {"a": "1"}


def test_crlf_line_endings() -> None:
    assert values("[s]\r\na = 1\r\nb = 2\r\n") == {"a": "1", "b": "2"}


def test_key_before_any_section_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_ini("; c\na = 1\n", "/etc/x.conf")
    err = info.value
    assert (err.file, err.line) == ("/etc/x.conf", 2)
    assert "section header" in err.message
    assert str(err).startswith("/etc/x.conf:2: ")


def test_line_without_separator_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_ini("[s]\na = 1\njunk here\n", "f.conf")
    err = info.value
    assert (err.file, err.line, err.section) == ("f.conf", 3, "s")
    assert "expected 'key = value'" in err.message and "junk here" in err.message


def test_empty_key_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_ini("[s]\n= 1\n", "f.conf")
    assert info.value.line == 2
    assert "key name" in info.value.message


@pytest.mark.parametrize("header", ["[abc", "[]", "[  ]"])
def test_bad_section_headers(header: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_ini(f"{header}\n", "f.conf")
    assert info.value.line == 1


def test_read_ini_reads_file_and_records_path(tmp_path: Path) -> None:
    path = tmp_path / "a.conf"
    path.write_text("[s]\na = 1\n")
    doc = read_ini(str(path))
    sec = doc.get("s")
    assert sec is not None and sec.values["a"].file == str(path)


def test_read_ini_missing_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.conf")
    with pytest.raises(ConfigError) as info:
        read_ini(missing)
    assert info.value.file == missing
    assert "cannot read" in info.value.message


def test_read_ini_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.conf"
    path.write_bytes(b"[s]\na = \xff\xfe\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        read_ini(str(path))


def test_merge_documents_later_wins_and_keeps_locations() -> None:
    main = parse_ini("[s]\na = 1\nb = 1\n", "main")
    extra = parse_ini("[s]\nb = 2\n[u]\nc = 3\n", "extra")
    main.merge(extra)
    s = main.get("s")
    assert s is not None
    assert s.values["a"].file == "main"
    assert s.values["b"] == IniValue("2", "extra", 2)
    u = main.get("u")
    assert u is not None and u.file == "extra"


def test_merge_section_copies_values() -> None:
    doc = IniDocument()
    section = IniSection("s", "f", 1, {"a": IniValue("1", "f", 2)})
    doc.merge_section(section)
    section.values["b"] = IniValue("2", "f", 3)
    merged = doc.get("s")
    assert merged is not None and "b" not in merged
