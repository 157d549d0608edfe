"""The one exception a bad configuration raises, and how it reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


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


# ``supervisord check`` wants every error, the daemon only the first: while a list is installed here, the
# places that can carry on after an error (a bad key falls back to its default, a bad section is skipped)
# record it instead of raising, and the loader goes on to find the next one.
_sink: ContextVar[list[ConfigError] | None] = ContextVar("config_error_sink", default=None)


@contextmanager
def collect_errors() -> Iterator[list[ConfigError]]:
    """Within this block, :func:`report` records errors in the yielded list instead of raising them."""
    errors: list[ConfigError] = []
    token = _sink.set(errors)
    try:
        yield errors
    finally:
        _sink.reset(token)


def report(error: ConfigError) -> None:
    """Raise ``error``, or only record it when :func:`collect_errors` is active (the caller carries on)."""
    sink = _sink.get()
    if sink is None:
        raise error from None
    sink.append(error)


@contextmanager
def skip_on_error() -> Iterator[None]:
    """Run one self-contained step (a section); while collecting, its error is recorded, the step skipped."""
    try:
        yield
    except ConfigError as exc:
        report(exc)
