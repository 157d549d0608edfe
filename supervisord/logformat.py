"""``stdout_log_format`` / ``stderr_log_format``: how a child's output lines are written to its log files.

``raw`` (the default, Supervisor's) writes the bytes as they came and never uses this module. The other two
work on lines, so a chunk that ends inside a line keeps its tail until the rest arrives:

* ``timestamped``: ``2026-11-27 07:01:02,345 `` before each line (the daemon's local time, as its own log).
* ``json``: one object a line, ``{"time", "program", "process", "stream", "line"}`` (``time`` in RFC 3339
  UTC with milliseconds). A line longer than :data:`MAX_LINE` is written in pieces each flagged
  ``"partial": true`` (the last piece too, so a reader knows to join them), and so is a last line the
  child never ended before its pipe closed: a line is never split silently.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable

MAX_LINE = 64 * 1024  # bytes of one line held before it is written as a flagged piece


class LineFormatter:
    """Turns output chunks into formatted log bytes; holds a partial last line between chunks."""

    def __init__(
        self,
        style: str,
        program: str,
        process: str,
        stream: str,
        *,
        max_line: int = MAX_LINE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.style = style
        self.program = program
        self.process = process
        self.stream = stream
        self.max_line = max_line
        self.clock = clock
        self.pending = b""
        self.split = False  # the pending text continues a line already written as a partial piece

    def feed(self, data: bytes) -> bytes:
        """Formatted bytes for every complete line in ``pending + data`` (and for over-long pieces)."""
        buf = self.pending + data if self.pending else data
        out: list[bytes] = []
        now = self.clock()
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            out.append(self._format(buf[start:end], now, partial=self.split))
            self.split = False
            start = end + 1
        rest = buf[start:]
        while len(rest) >= self.max_line:
            out.append(self._format(rest[: self.max_line], now, partial=True))
            self.split = True
            rest = rest[self.max_line :]
        self.pending = rest
        return b"".join(out)

    def flush(self) -> bytes:
        """The pipe closed: the unterminated last line, flagged as partial."""
        if not self.pending:
            self.split = False
            return b""
        rest, self.pending = self.pending, b""
        self.split = False
        return self._format(rest, self.clock(), partial=True)

    def _format(self, line: bytes, now: float, *, partial: bool) -> bytes:
        if self.style == "json":
            record: dict[str, object] = {
                "time": datetime.datetime.fromtimestamp(now, datetime.UTC).isoformat(timespec="milliseconds"),
                "program": self.program,
                "process": self.process,
                "stream": self.stream,
                "line": line.decode("utf-8", "replace"),
            }
            if partial:
                record["partial"] = True
            return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        millis = int(now * 1000) % 1000
        return f"{stamp},{millis:03d} ".encode() + line + b"\n"  # the line's bytes as they came
