"""Event listeners the event tests run as child programs (``python listeners.py MODE OUTFILE``).

record   — append ``EVENTNAME serial poolserial payload`` per event, answer OK (Supervisor's childutils).
failonce — on its first event ever (a marker file next to OUTFILE), exit without answering; then record.
garbage  — write junk instead of READY (a protocol violation), then sleep.
failfirst — answer FAIL the first time it sees every third event (by serial), then record it.
dieevery — record and answer 4 events, then exit on the 5th without answering (it is restarted).
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


def failfirst(out: str) -> None:
    seen = out + ".seen"
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        with open(seen, "a+") as fh:
            fh.seek(0)
            known = fh.read().split()
        if int(headers["serial"]) % 3 == 0 and headers["serial"] not in known:
            with open(seen, "a") as fh:
                fh.write(headers["serial"] + "\n")
            childutils.listener.fail(sys.stdout)
            continue
        with open(out, "a") as fh:
            fh.write(
                " ".join(
                    (
                        headers["eventname"],
                        headers["serial"],
                        headers["poolserial"],
                        payload.replace("\n", "|"),
                    )
                )
                + "\n"
            )
        childutils.listener.ok(sys.stdout)


def dieevery(out: str) -> None:
    for _ in range(4):
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        with open(out, "a") as fh:
            fh.write(
                " ".join(
                    (
                        headers["eventname"],
                        headers["serial"],
                        headers["poolserial"],
                        payload.replace("\n", "|"),
                    )
                )
                + "\n"
            )
        childutils.listener.ok(sys.stdout)
    childutils.listener.wait(sys.stdin, sys.stdout)
    os._exit(1)  # dies holding an event (and, with prefetch, more staged behind it)


def garbage(out: str) -> None:
    with open(out, "a") as fh:
        fh.write("started\n")
    sys.stdout.write("HELLO THERE\n")
    sys.stdout.flush()
    time.sleep(1000)


if __name__ == "__main__":
    modes = {"record": record, "failonce": failonce, "garbage": garbage, "failfirst": failfirst}
    modes["dieevery"] = dieevery
    modes[sys.argv[1]](sys.argv[2])
