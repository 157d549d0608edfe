"""Pure transformations of child output: ANSI stripping and Supervisor's capture-mode token scanner.

Both work on arbitrary chunk boundaries (an escape or a token may be split across two reads) and keep only a
few bytes of state, so the log sink can apply them to 1 MiB chunks without per-line work.
"""

from __future__ import annotations

import re

# Supervisor's stripEscapes drops ESC [ up to one of these terminators; the regex does the same in C.
_ANSI = re.compile(rb"\x1b\[[^HfABCDRsuJKhlpm]*[HfABCDRsuJKhlpm]")
_ANSI_TAIL = 64  # an unterminated escape longer than this is not held back (it is not an escape)


class AnsiStripper:
    """Removes ``ESC[…`` sequences from a stream, holding back one that a chunk boundary cuts in two."""

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, data: bytes) -> bytes:
        if self.carry:
            data = self.carry + data
            self.carry = b""
        if b"\x1b" not in data:
            return data
        out = _ANSI.sub(b"", data)
        esc = out.rfind(b"\x1b", max(0, len(out) - _ANSI_TAIL))
        if esc >= 0 and (esc == len(out) - 1 or out[esc + 1 : esc + 2] == b"["):
            self.carry, out = out[esc:], out[:esc]  # unterminated: may complete in the next chunk
        return out

    def flush(self) -> bytes:
        rest, self.carry = self.carry, b""
        return rest


def strip_ansi(data: bytes) -> bytes:
    """One-shot form of :class:`AnsiStripper` (for complete data)."""
    return _ANSI.sub(b"", data)


BEGIN_TOKEN = b"<!--XSUPERVISOR:BEGIN-->"
END_TOKEN = b"<!--XSUPERVISOR:END-->"


def _prefix_at_end(data: bytes, token: bytes) -> int:
    """Length of the longest proper prefix of ``token`` that ``data`` ends with (0 if none)."""
    for size in range(min(len(token) - 1, len(data)), 0, -1):
        if data.endswith(token[:size]):
            return size
    return 0


class CaptureScanner:
    """Supervisor's process-communication capture mode as a pure state machine over chunks.

    ``feed`` returns segments in order: ``("log", data)`` for normal output, ``("capture", data)`` for bytes
    between the tokens, and ``("event", payload)`` when END closes a capture (the payload keeps roughly the
    last ``maxbytes`` bytes, like Supervisor's bounded buffer). A token split across chunks is held back
    until the next chunk decides it.
    """

    def __init__(self, maxbytes: int) -> None:
        self.maxbytes = maxbytes
        self.capturing = False
        self.pending = b""
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        data = self.pending + data if self.pending else data
        self.pending = b""
        while data:
            token = END_TOKEN if self.capturing else BEGIN_TOKEN
            kind = "capture" if self.capturing else "log"
            index = data.find(token)
            if index < 0:
                keep = _prefix_at_end(data, token)
                if keep:
                    self.pending, data = data[-keep:], data[:-keep]
                if data:
                    self._emit(out, kind, data)
                break
            if index:
                self._emit(out, kind, data[:index])
            data = data[index + len(token) :]
            if self.capturing:
                out.append(("event", bytes(self.buffer)))
                self.buffer.clear()
            self.capturing = not self.capturing
        return out

    def flush(self) -> list[tuple[str, bytes]]:
        """At EOF: a held-back partial token was just data after all."""
        rest, self.pending = self.pending, b""
        out: list[tuple[str, bytes]] = []
        if rest:
            self._emit(out, "capture" if self.capturing else "log", rest)
        return out

    def _emit(self, out: list[tuple[str, bytes]], kind: str, data: bytes) -> None:
        out.append((kind, data))
        if kind == "capture":
            self.buffer += data
            if len(self.buffer) > self.maxbytes:
                del self.buffer[: len(self.buffer) - self.maxbytes]
