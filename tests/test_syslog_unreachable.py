"""Output sent to local syslog when no syslog daemon listens: said once in the main log, never silently lost."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from harness import wait_for

from supervisord.config.model import LogDestination, LogKind, SyslogConfig
from supervisord.mainlog import LOGGER_NAME
from supervisord.syslog import SOCKET_ENV, SyslogTarget


def test_missing_dev_log_is_said_once_naming_the_first_program_and_the_socket(daemon, tmp_path: Path) -> None:
    missing = tmp_path / "no-syslog-here" / "log"
    d = daemon(
        """
        [program:talker]
        command = bash -c "for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done; exec sleep 1000"
        stdout_logfile = syslog
        startsecs = 0
        priority = 1

        [program:others]
        command = bash -c "sleep 0.3; echo other; echo err >&2; exec sleep 1000"
        stdout_logfile = syslog
        stderr_logfile = syslog
        numprocs = 3
        process_name = %(program_name)s_%(process_num)d
        startsecs = 0
        """,
        start=False,
    )
    d.start(env={SOCKET_ENV: str(missing)})
    pattern = rf"talker stdout is logged to syslog, but nothing receives it at {missing} \(No such file"
    d.wait_log(pattern)
    wait_for(lambda: "\nline 5\n" in d.log(), 15, what="the last line")  # the sink went on meanwhile
    wait_for(lambda: d.log().count("\nerr\n") == 3, 15, what="the other programs' lines")
    assert [level for _, level, msg in d.entries() if "nothing receives it" in msg] == ["WARN"], d.log()
    assert d.stop() == 0


def test_a_stale_socket_file_is_said_once_and_lines_flow_once_syslog_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "log.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(path))
    stale.close()  # the file stays; nothing receives: ECONNREFUSED
    monkeypatch.setenv(SOCKET_ENV, str(path))
    target = SyslogTarget(LogDestination(LogKind.SYSLOG), SyslogConfig(), "web", "stderr")
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        target.write(b"one\n")
        target.write(b"two\n")
        target.flush()
    warnings = [r.getMessage() for r in caplog.records if "nothing receives it" in r.getMessage()]
    assert warnings == [
        f"web stderr is logged to syslog, but nothing receives it at {path} (Connection refused): its lines, "
        "and those of any other program logging there, are held (up to 1024 KiB each) and the oldest "
        "dropped beyond that, until a syslog daemon listens there"
    ]
    assert target.pending()
    path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5)
    try:
        wait_for(lambda: (target.flush(), not target.pending())[1], what="the held lines to go out")
        got = [server.recv(65536) for _ in range(2)]
        assert got[0].endswith(b"web: one") and got[1].endswith(b"web: two"), got
    finally:
        server.close()
        target.close()
