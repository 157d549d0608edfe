"""The one exception a bad configuration raises, and how it reads."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, located as precisely as the parser knows.

    ``str(err)`` is the full human message, e.g.
    ``/etc/sv.conf:12: [program:web] startsecs: expected an integer >= 0, got 'soon'``.
    The daemon prints it and exits 2 without starting anything.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.section = section
        self.key = key

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        what = ""
        if self.section:
            what = f"[{self.section}] "
        if self.key:
            what += f"{self.key}: "
        return f"{where}{what}{self.message}"
