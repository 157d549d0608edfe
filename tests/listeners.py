"""Event listeners the event tests run as child programs (``python listeners.py MODE OUTFILE``).

record   — append ``EVENTNAME serial poolserial payload`` per event, answer OK (Supervisor's childutils).
failonce — on its first event ever (a marker file next to OUTFILE), exit without answering; then record.
garbage  — write junk instead of READY (a protocol violation), then sleep.
"""

from __future__ import annotations

import os
import sys
import time

from supervisor import childutils


def record(out: str) -> None:
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        line = " ".join(
            (headers["eventname"], headers["serial"], headers["poolserial"], payload.replace("\n", "|"))
        )
        with open(out, "a") as fh:
            fh.write(line + "\n")
        childutils.listener.ok(sys.stdout)


def failonce(out: str) -> None:
    marker = out + ".failed"
    if not os.path.exists(marker):
        headers, _ = childutils.listener.wait(sys.stdin, sys.stdout)
        with open(marker, "w") as fh:
            fh.write(headers["serial"])
        os._exit(1)
    record(out)


def garbage(out: str) -> None:
    with open(out, "a") as fh:
        fh.write("started\n")
    sys.stdout.write("HELLO THERE\n")
    sys.stdout.flush()
    time.sleep(1000)


if __name__ == "__main__":
    {"record": record, "failonce": failonce, "garbage": garbage}[sys.argv[1]](sys.argv[2])
