"""The operations keys without a daemon: their parsing (file and line on errors, ``[program-default]``,
``supervisord check`` collecting every error) and their rules in the pure state machine (backoff as data,
readiness gating RUNNING with startsecs as the deadline, ``startretries = forever``)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from supervisord.config.checks import check_info
from supervisord.config.errors import ConfigError
from supervisord.config.loader import load_config
from supervisord.config.model import (
    AutoRestart,
    BackoffConfig,
    Config,
    LivenessConfig,
    Probe,
    ProcessConfig,
    ReadinessConfig,
)
from supervisord.states import ArmTimer, Kill, Log, Machine, ProcessState, Spawn, Transition, backoff_delay

S = ProcessState
PID = 4242


def load(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "supervisord.conf"
    path.write_text("[supervisord]\n" + textwrap.dedent(body).lstrip("\n"))
    return load_config(str(path), environ={"HOME": "/root"}, cwd=str(tmp_path))


def only(config: Config) -> ProcessConfig:
    return config.groups[0].processes[0]


# --- config ---


def test_defaults_are_supervisors(tmp_path: Path) -> None:
    p = only(load(tmp_path, "[program:a]\ncommand = sleep 1\n"))
    assert p.readiness == ReadinessConfig() and p.readiness.probe is None
    assert p.liveness == LivenessConfig() and p.liveness.probe is None
    assert p.backoff == BackoffConfig() and p.startretries == 3
    assert [backoff_delay(p.backoff, n) for n in (1, 2, 3)] == [1, 2, 3]


def test_every_key_parsed(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [program-default]
        backoff_initial = 0.5
        backoff_factor = 2
        [program:a]
        command = sleep 1
        startretries = forever
        readiness_check = notify
        readiness_watchdog_sec = 5
        readiness_check_period = 0.5
        liveness_check_script = tcp://localhost:5432
        liveness_check_initial_delay = 2
        liveness_check_period = 3
        liveness_check_timeout = 4
        liveness_check_success_threshold = 2
        liveness_check_failure_threshold = 5
        liveness_check_success_action = /bin/echo ok
        liveness_check_failure_action = stop
        backoff_max = 30
        backoff_jitter = 0.1
        backoff_reset_after = 60
        [program:b]
        command = sleep 1
        readiness_check = https://localhost:8443/ready
        liveness_check_script = /usr/bin/check --quick
        liveness_check_failure_action = /usr/bin/page "the team"
        """,
    )
    a, b = (g.processes[0] for g in config.groups)
    assert a.startretries == -1
    assert a.readiness == ReadinessConfig(Probe("notify"), 0.5, 5.0)
    assert a.liveness == LivenessConfig(Probe("tcp", "localhost:5432"), 2, 3, 4, 2, 5, "/bin/echo ok", "stop")
    assert a.backoff == BackoffConfig(0.5, 2.0, 30.0, 0.1, 60.0)
    assert b.backoff == BackoffConfig(0.5, 2.0)  # from [program-default]
    assert b.readiness.probe == Probe("http", "https://localhost:8443/ready")
    assert b.liveness.probe == Probe("script", "/usr/bin/check --quick")
    assert b.liveness.failure_action == '/usr/bin/page "the team"'
    info = check_info(a)
    assert info["readiness_check"] == "notify" and info["liveness_check_script"] == "tcp://localhost:5432"
    assert (
        check_info(b)["backoff_max"] == 0
        and check_info(only(load(tmp_path, "[program:c]\ncommand=x\n")))["backoff_factor"] == "linear"
    )


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ("readiness_check = ftp://x", "readiness_check", "expected notify, http(s)://URL"),
        ("readiness_check = /bin/check", "readiness_check", "expected notify"),
        ("readiness_check = tcp://host", "readiness_check", "HOST:PORT with a port 1-65535"),
        ("readiness_check = http:///path", "readiness_check", "the URL has no host"),
        ("readiness_check_period = 0", "readiness_check_period", "expected a number of seconds > 0"),
        ("readiness_watchdog_sec = 3", "readiness_watchdog_sec", "needs readiness_check = notify"),
        ("liveness_check_script = tcp://h:99999", "liveness_check_script", "a port 1-65535"),
        ("liveness_check_script = script://", "liveness_check_script", "the command is empty"),
        (
            "liveness_check_script = http://h/ -H 'A: b' --insecure",
            "liveness_check_script",
            "unknown option '--insecure' after the URL (the options are -H/--header 'NAME: VALUE', -d/",
        ),
        ("liveness_check_script = http://h/ -H novalue", "liveness_check_script", "expects 'NAME: VALUE'"),
        (
            "liveness_check_script = http://h/ -d @/no/such",
            "liveness_check_script",
            "no such file '/no/such'",
        ),
        ("liveness_check_script = http://h/ --cert /etc/hostname", "liveness_check_script", "go together"),
        ("liveness_check_script = http://h/ -H", "liveness_check_script", "option '-H' needs a value"),
        ("liveness_check_failure_threshold = 0", "liveness_check_failure_threshold", "an integer >= 1"),
        ("liveness_check_failure_action = 'unclosed", "liveness_check_failure_action", "expected a command"),
        ("startretries = always", "startretries", "expected an integer >= 0 or 'forever'"),
        ("backoff_factor = 0.5", "backoff_factor", "expected a factor >= 1"),
        ("backoff_jitter = 2", "backoff_jitter", "expected a fraction between 0 and 1"),
        ("backoff_max = 0", "backoff_max", "expected a number of seconds > 0"),
        ("backoff_initial = soon", "backoff_initial", "expected a number of seconds >= 0"),
    ],
)
def test_errors_have_file_and_line(tmp_path: Path, line: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f"[program:a]\ncommand = sleep 1\n{line}\n")
    err = info.value
    assert (err.line, err.key) == (4, key), str(err)
    assert words in err.message, err.message


def test_check_collects_every_bad_key(tmp_path: Path) -> None:
    conf = tmp_path / "c.conf"
    conf.write_text(
        "[supervisord]\n[program:a]\ncommand = sleep 1\nreadiness_check = nope\nbackoff_factor = 0\n"
        "liveness_check_period = -1\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "supervisord", "check", "-c", str(conf)], capture_output=True, text=True
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    for line, key in ((4, "readiness_check"), (5, "backoff_factor"), (6, "liveness_check_period")):
        assert f"{conf}:{line}: [program:a] {key}: " in out, out


def test_listeners_do_not_take_checks(tmp_path: Path) -> None:
    config = load(tmp_path, "[eventlistener:l]\ncommand = cat\nevents = TICK_5\nreadiness_check = notify\n")
    assert only(config).readiness.probe is None  # warned about as an unknown key, not applied


# --- the state machine ---


def make(**overrides: object) -> Machine:
    config = ProcessConfig(name="p", group="p", program_name="p", command="/bin/true", startsecs=1)
    return Machine(replace(config, **overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        (BackoffConfig(), [1, 2, 3, 4, 5]),
        (BackoffConfig(initial=2), [2, 4, 6, 8, 10]),
        (BackoffConfig(initial=1, factor=2), [1, 2, 4, 8, 16]),
        (BackoffConfig(initial=1, factor=2, max=5), [1, 2, 4, 5, 5]),
        (BackoffConfig(initial=3, factor=1), [3, 3, 3, 3, 3]),
    ],
)
def test_backoff_delay(backoff: BackoffConfig, expected: list[float]) -> None:
    assert [backoff_delay(backoff, n) for n in range(1, 6)] == expected


def test_backoff_jitter_spreads_both_ways() -> None:
    jittered = BackoffConfig(initial=10, factor=1, jitter=0.2)
    assert backoff_delay(jittered, 1, 0.0) == pytest.approx(8.0)
    assert backoff_delay(jittered, 1, 0.5) == pytest.approx(10.0)
    assert backoff_delay(jittered, 1, 0.999) == pytest.approx(11.996)
    assert backoff_delay(BackoffConfig(factor=10, max=60), 10_000) == 60  # no OverflowError


def test_machine_waits_the_configured_ramp() -> None:
    m = make(startretries=3, backoff=BackoffConfig(initial=0.5, factor=3, max=2.5))
    m.rng = lambda: 0.0
    m.start(0.0)
    arms = []
    now = 0.0
    for pid in range(1, 5):
        m.spawned(pid, now)
        now += 0.1
        effects = m.exited(1 << 8, now)
        arms += [e.at - now for e in effects if isinstance(e, ArmTimer)]
        if m.state is S.BACKOFF:
            now = m.timer_at or now
            m.timer(now)
    assert arms == pytest.approx([0.5, 1.5, 2.5])
    assert m.state is S.FATAL


def test_machine_jitter_uses_its_rng() -> None:
    m = make(backoff=BackoffConfig(initial=10, factor=1, jitter=0.5))
    m.rng = lambda: 1.0
    m.start(0.0)
    m.spawned(PID, 0.0)
    effects = m.exited(1 << 8, 0.2)
    assert ArmTimer(0.2 + 15.0) in effects


def test_startretries_forever_never_gives_up() -> None:
    m = make(startretries=-1)
    m.start(0.0)
    now = 0.0
    for pid in range(1, 60):
        m.spawned(pid, now)
        m.exited(1 << 8, now + 0.1)
        assert m.state is S.BACKOFF
        now = m.timer_at or 0.0
        m.timer(now)
    assert m.backoff == 59


def test_reset_after_counts_a_quick_crash_as_a_failed_start() -> None:
    m = make(startsecs=0, startretries=2, backoff=BackoffConfig(initial=1, factor=2, reset_after=10))
    m.start(0.0)
    m.spawned(1, 0.0)  # RUNNING at once (startsecs = 0)
    effects = m.exited(1 << 8, 2.0)  # up 2 s < 10 s: a crash
    assert m.state is S.EXITED and m.backoff == 1 and ArmTimer(3.0) in effects
    m.timer(3.0)
    m.spawned(2, 3.0)
    effects = m.exited(1 << 8, 4.0)
    assert m.backoff == 2 and ArmTimer(6.0) in effects
    m.timer(6.0)
    m.spawned(3, 6.0)
    effects = m.exited(1 << 8, 7.0)  # third quick crash: over startretries
    assert m.state is S.FATAL
    assert Transition(S.EXITED, S.FATAL, 0, 0) in effects


def test_reset_after_a_long_run_starts_the_count_again() -> None:
    m = make(startsecs=0, autorestart=AutoRestart.ALWAYS, backoff=BackoffConfig(reset_after=10))
    m.start(0.0)
    m.spawned(1, 0.0)
    m.exited(1 << 8, 1.0)
    assert m.backoff == 1
    m.timer(m.timer_at or 0.0)
    m.spawned(2, 2.0)
    effects = m.exited(1 << 8, 20.0)  # up 18 s: the count starts again, restart at once
    assert m.backoff == 0 and Spawn() in effects


def test_readiness_gates_running_and_startsecs_is_the_deadline() -> None:
    m = make(startsecs=5, readiness=ReadinessConfig(Probe("notify")))
    m.start(0.0)
    effects = m.spawned(PID, 0.0)
    assert effects[-1] == ArmTimer(5.0) and m.state is S.STARTING
    effects = m.ready(1.0)
    assert m.state is S.RUNNING
    assert Log("info", "success: p entered RUNNING state, process is ready (notify)") in effects
    assert m.ready(2.0) == []  # only once


def test_readiness_deadline_stops_then_kills_and_is_a_failed_start() -> None:
    m = make(startsecs=5, stopwaitsecs=3, startretries=1, readiness=ReadinessConfig(Probe("tcp", "h:1")))
    m.start(0.0)
    m.spawned(PID, 0.0)
    effects = m.timer(5.0)
    assert Kill(int(signal.SIGTERM), False) in effects and ArmTimer(8.0) in effects
    assert m.state is S.STARTING and m.spawnerr == "not ready within 5 seconds (tcp://h:1)"
    assert m.ready(6.0) == []  # too late: it is being stopped
    effects = m.timer(8.0)
    assert Kill(int(signal.SIGKILL), False) in effects
    m.exited(int(signal.SIGKILL), 8.5)
    assert m.state is S.BACKOFF and m.spawnerr == "not ready within 5 seconds (tcp://h:1)"


def test_readiness_without_deadline_waits_forever() -> None:
    m = make(startsecs=0, readiness=ReadinessConfig(Probe("notify")))
    m.start(0.0)
    assert not any(isinstance(e, ArmTimer) for e in m.spawned(PID, 0.0))
    assert m.state is S.STARTING
