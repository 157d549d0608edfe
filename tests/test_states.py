"""Unit tests for the pure process state machine in :mod:`supervisord.states`.

The machine does no I/O and reads no clock, so every test drives it with explicit ``now`` values and raw
wait statuses (``code << 8`` for an exit code, ``signum`` for a signal death, ``signum | 0x80`` for a
core dump) and asserts on the exact effect lists it returns.
"""

from __future__ import annotations

import signal
from dataclasses import replace

import pytest

from supervisord.config.model import AutoRestart, ProcessConfig
from supervisord.states import (
    RUNNING_STATES,
    SIGNALLABLE_STATES,
    STARTABLE_STATES,
    STOPPED_STATES,
    ArmTimer,
    DisarmTimer,
    Kill,
    Log,
    Machine,
    ProcessState,
    Spawn,
    Transition,
    describe_exit,
    signal_name,
)

S = ProcessState
SIGTERM = int(signal.SIGTERM)
SIGINT = int(signal.SIGINT)
SIGHUP = int(signal.SIGHUP)
SIGKILL = int(signal.SIGKILL)
SIGSEGV = int(signal.SIGSEGV)
SIGQUIT = int(signal.SIGQUIT)
SIGABRT = int(signal.SIGABRT)
SIGUSR1 = int(signal.SIGUSR1)

PID = 4242
GAVE_UP = Log("info", "gave up: p entered FATAL state, too many start retries too quickly")


def exit_code(code: int) -> int:
    """Raw wait status of a normal exit with ``code``."""
    return code << 8


def killed_by(signum: int, *, core: bool = False) -> int:
    """Raw wait status of a death by ``signum`` (optionally with a core dump)."""
    return signum | (0x80 if core else 0)


def make_config(**overrides: object) -> ProcessConfig:
    base = ProcessConfig(
        name="p",
        group="p",
        program_name="p",
        command="/bin/true",
        startsecs=1,
        startretries=2,
        stopwaitsecs=10,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def make_machine(**overrides: object) -> Machine:
    return Machine(make_config(**overrides))


def running_machine(pid: int = PID, now: float = 100.0, **overrides: object) -> Machine:
    """A machine brought to RUNNING the normal way: start, spawned, startsecs timer."""
    m = make_machine(**overrides)
    m.start(now)
    m.spawned(pid, now)
    if m.state is S.STARTING:
        assert m.timer_at is not None
        m.timer(m.timer_at)
    assert m.state is S.RUNNING
    assert m.effects == []
    return m


def starting_machine(pid: int = PID, now: float = 100.0, **overrides: object) -> Machine:
    m = make_machine(**overrides)
    m.start(now)
    m.spawned(pid, now)
    assert m.state is S.STARTING
    return m


def backoff_machine(now: float = 100.0, **overrides: object) -> Machine:
    """One failed start: STARTING -> BACKOFF with backoff == 1 (timer armed at now + 1)."""
    m = starting_machine(now=now, **overrides)
    m.exited(exit_code(1), now + 0.1)
    assert m.state is S.BACKOFF
    assert m.backoff == 1
    return m


def transitions(effects: list[object]) -> list[Transition]:
    return [e for e in effects if isinstance(e, Transition)]


def count(effects: list[object], kind: type) -> int:
    return sum(1 for e in effects if isinstance(e, kind))


# --- constants -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (S.STOPPED, 0),
        (S.STARTING, 10),
        (S.RUNNING, 20),
        (S.BACKOFF, 30),
        (S.STOPPING, 40),
        (S.EXITED, 100),
        (S.FATAL, 200),
        (S.UNKNOWN, 1000),
    ],
)
def test_state_codes_match_supervisor(state: ProcessState, code: int) -> None:
    assert int(state) == code


def test_state_groups() -> None:
    assert frozenset({S.STOPPED, S.EXITED, S.FATAL, S.UNKNOWN}) == STOPPED_STATES
    assert frozenset({S.RUNNING, S.BACKOFF, S.STARTING}) == RUNNING_STATES
    assert frozenset({S.RUNNING, S.STARTING, S.STOPPING}) == SIGNALLABLE_STATES
    assert frozenset({S.STOPPED, S.EXITED, S.FATAL}) == STARTABLE_STATES
    assert set(ProcessState) == STOPPED_STATES | RUNNING_STATES | {S.STOPPING}


def test_new_machine_defaults() -> None:
    m = make_machine()
    assert m.state is S.STOPPED
    assert m.pid == 0
    assert m.backoff == 0
    assert m.timer_at is None
    assert m.spawnerr == ""
    assert m.exitstatus == 0
    assert m.name == "p"


# --- describe_exit / signal_name -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (exit_code(0), (0, "exit status 0")),
        (exit_code(1), (1, "exit status 1")),
        (exit_code(2), (2, "exit status 2")),
        (exit_code(3), (3, "exit status 3")),
        (exit_code(127), (127, "exit status 127")),
        (exit_code(255), (255, "exit status 255")),
        (killed_by(SIGKILL), (-1, "terminated by SIGKILL")),
        (killed_by(SIGTERM), (-1, "terminated by SIGTERM")),
        (killed_by(SIGHUP), (-1, "terminated by SIGHUP")),
        (killed_by(SIGINT), (-1, "terminated by SIGINT")),
        (killed_by(SIGSEGV, core=True), (-1, "terminated by SIGSEGV (core dumped)")),
        (killed_by(SIGABRT, core=True), (-1, "terminated by SIGABRT (core dumped)")),
        (killed_by(SIGQUIT, core=True), (-1, "terminated by SIGQUIT (core dumped)")),
    ],
)
def test_describe_exit(status: int, expected: tuple[int, str]) -> None:
    assert describe_exit(status) == expected


@pytest.mark.parametrize(
    ("signum", "name"),
    [
        (SIGTERM, "SIGTERM"),
        (SIGKILL, "SIGKILL"),
        (SIGHUP, "SIGHUP"),
        (SIGUSR1, "SIGUSR1"),
        (99, "signal 99"),
        (0, "signal 0"),
    ],
)
def test_signal_name(signum: int, name: str) -> None:
    assert signal_name(signum) == name


def test_describe_exit_unknown_signal_number() -> None:
    # 99 is not a signal on Linux, but the low 7 bits say "signalled".
    assert describe_exit(99) == (-1, "terminated by signal 99")


# --- STOPPED -> STARTING -> RUNNING ----------------------------------------------------------------------


def test_start_from_stopped_emits_transition_then_spawn() -> None:
    m = make_machine()
    effects = m.start(100.0)
    assert effects == [Transition(S.STOPPED, S.STARTING, 0, 0), Spawn()]
    assert m.state is S.STARTING
    assert m.laststart == 100.0
    assert m.effects == []  # the buffer was handed over


def test_spawned_logs_and_arms_startsecs_timer_from_laststart() -> None:
    m = make_machine(startsecs=3)
    m.start(100.0)
    # exec took a while: the RUNNING deadline still counts from laststart, not from spawned().
    effects = m.spawned(PID, 100.7)
    assert effects == [Log("info", f"spawned: 'p' with pid {PID}"), ArmTimer(103.0)]
    assert m.pid == PID
    assert m.timer_at == 103.0
    assert m.state is S.STARTING


def test_startsecs_timer_enters_running() -> None:
    m = starting_machine(startsecs=1)
    effects = m.timer(101.0)
    assert effects == [
        Transition(S.STARTING, S.RUNNING, 0, PID),
        Log(
            "info", "success: p entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"
        ),
    ]
    assert m.state is S.RUNNING
    assert m.timer_at is None
    assert m.backoff == 0


@pytest.mark.parametrize(("startsecs", "shown"), [(1, "1"), (2.0, "2"), (0.5, "0.5"), (10, "10")])
def test_success_message_formats_startsecs(startsecs: float, shown: str) -> None:
    m = starting_machine(startsecs=startsecs)
    effects = m.timer(100.0 + startsecs)
    assert (
        Log(
            "info",
            f"success: p entered RUNNING state, process has stayed up for > than {shown} seconds (startsecs)",
        )
        in effects
    )


def test_logs_use_process_name_not_namespec() -> None:
    m = make_machine(name="web_01", group="web", program_name="web")
    m.start(0.0)
    assert m.spawned(7, 0.0)[0] == Log("info", "spawned: 'web_01' with pid 7")
    assert m.timer(1.0)[1].message.startswith("success: web_01 entered RUNNING state")  # type: ignore[union-attr]


def test_startsecs_zero_enters_running_at_spawned() -> None:
    m = make_machine(startsecs=0)
    m.start(50.0)
    effects = m.spawned(PID, 50.0)
    assert effects == [
        Log("info", f"spawned: 'p' with pid {PID}"),
        Transition(S.STARTING, S.RUNNING, 0, PID),
        Log(
            "info", "success: p entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)"
        ),
    ]
    assert m.state is S.RUNNING
    assert m.timer_at is None
    assert count(effects, ArmTimer) == 0


def test_running_resets_backoff_counter() -> None:
    m = backoff_machine(now=0.0)
    m.timer(1.1)  # BACKOFF -> STARTING with tries 1
    m.spawned(PID + 1, 1.1)
    effects = m.timer(2.1)
    assert transitions(effects) == [Transition(S.STARTING, S.RUNNING, 0, PID + 1)]
    assert m.backoff == 0


# --- STARTING -> BACKOFF -> STARTING / FATAL -------------------------------------------------------------


def test_exit_while_starting_goes_to_backoff() -> None:
    m = starting_machine(now=100.0, startsecs=5)
    effects = m.exited(exit_code(1), 100.5)
    assert effects == [
        Log("warn", "exited: p (exit status 1; not expected)"),
        DisarmTimer(),
        Transition(S.STARTING, S.BACKOFF, 1, 0),
        ArmTimer(101.5),
    ]
    assert m.state is S.BACKOFF
    assert m.backoff == 1
    assert m.pid == 0
    assert m.exitstatus == 0
    assert m.spawnerr == "Exited too quickly (process log may have details)"
    assert m.timer_at == 101.5


@pytest.mark.parametrize("status", [exit_code(0), exit_code(2)])
def test_exit_while_starting_is_a_failed_start_even_with_an_expected_code(status: int) -> None:
    m = starting_machine(exitcodes=frozenset({0, 2}))
    effects = m.exited(status, 100.2)
    assert m.state is S.BACKOFF
    assert effects[0] == Log("warn", f"exited: p (exit status {status >> 8}; not expected)")
    assert transitions(effects) == [Transition(S.STARTING, S.BACKOFF, 1, 0)]


def test_exit_while_starting_by_signal() -> None:
    m = starting_machine()
    effects = m.exited(killed_by(SIGSEGV, core=True), 100.2)
    assert effects[0] == Log("warn", "exited: p (terminated by SIGSEGV (core dumped); not expected)")
    assert m.state is S.BACKOFF


def test_backoff_timer_respawns_with_current_tries() -> None:
    m = backoff_machine(now=100.0)
    assert m.timer_at == 101.1
    effects = m.timer(101.1)
    assert effects == [Transition(S.BACKOFF, S.STARTING, 1, 0), Spawn()]
    assert m.state is S.STARTING
    assert m.laststart == 101.1
    assert m.spawnerr == ""
    assert m.backoff == 1


def test_backoff_retries_regardless_of_autorestart_never() -> None:
    m = backoff_machine(autorestart=AutoRestart.NEVER)
    effects = m.timer(m.timer_at)  # type: ignore[arg-type]
    assert Spawn() in effects
    assert m.state is S.STARTING


def run_failing_starts(m: Machine, *, t0: float = 0.0, lifetime: float = 0.25) -> list[object]:
    """Start once and let every child die ``lifetime`` after spawning until the machine gives up."""
    log: list[object] = []
    now = t0
    log += m.start(now)
    pid = 1000
    for _ in range(50):
        if m.state is not S.STARTING:
            break
        pid += 1
        log += m.spawned(pid, now)
        now += lifetime
        log += m.exited(exit_code(1), now)
        if m.state is S.BACKOFF:
            assert m.timer_at is not None
            now = m.timer_at
            log += m.timer(now)
    return log


def test_startretries_two_means_three_spawns_then_fatal() -> None:
    m = make_machine(startretries=2, startsecs=1)
    log = run_failing_starts(m)
    assert count(log, Spawn) == 3
    assert m.state is S.FATAL
    assert m.backoff == 0
    assert m.timer_at is None
    assert log[-2:] == [Transition(S.BACKOFF, S.FATAL, 0, 0), GAVE_UP]
    assert [(t.old, t.new, t.tries) for t in transitions(log)] == [
        (S.STOPPED, S.STARTING, 0),
        (S.STARTING, S.BACKOFF, 1),
        (S.BACKOFF, S.STARTING, 1),
        (S.STARTING, S.BACKOFF, 2),
        (S.BACKOFF, S.STARTING, 2),
        (S.STARTING, S.BACKOFF, 3),
        (S.BACKOFF, S.FATAL, 0),
    ]


def test_backoff_ramp_nth_retry_waits_n_seconds() -> None:
    m = make_machine(startretries=3, startsecs=1)
    log = run_failing_starts(m, t0=10.0, lifetime=0.25)
    arms = [e.at for e in log if isinstance(e, ArmTimer)]
    # per attempt: startsecs timer at laststart+1, then (except the last) the backoff delay.
    # attempt 1: laststart 10,    exit 10.25 -> retry at 11.25 (+1)
    # attempt 2: laststart 11.25, exit 11.5  -> retry at 13.5  (+2)
    # attempt 3: laststart 13.5,  exit 13.75 -> retry at 16.75 (+3)
    # attempt 4: laststart 16.75, exit 17.0  -> FATAL
    assert arms == [11.0, 11.25, 12.25, 13.5, 14.5, 16.75, 17.75]
    assert count(log, Spawn) == 4
    assert m.state is S.FATAL


@pytest.mark.parametrize("startretries", [0, 1, 2, 3, 5])
def test_spawn_count_is_startretries_plus_one(startretries: int) -> None:
    m = make_machine(startretries=startretries)
    log = run_failing_starts(m)
    assert count(log, Spawn) == startretries + 1
    starting = [t.tries for t in transitions(log) if t.new is S.STARTING]
    backoff = [t.tries for t in transitions(log) if t.new is S.BACKOFF]
    assert starting == list(range(startretries + 1))
    assert backoff == list(range(1, startretries + 2))
    assert transitions(log)[-1] == Transition(S.BACKOFF, S.FATAL, 0, 0)
    assert log[-1] == GAVE_UP
    assert m.state is S.FATAL


def test_startretries_zero_gives_up_after_first_failure() -> None:
    m = starting_machine(startretries=0)
    effects = m.exited(exit_code(1), 100.2)
    assert effects == [
        Log("warn", "exited: p (exit status 1; not expected)"),
        DisarmTimer(),
        Transition(S.STARTING, S.BACKOFF, 1, 0),
        Transition(S.BACKOFF, S.FATAL, 0, 0),
        GAVE_UP,
    ]


def test_fatal_is_final_until_a_user_start() -> None:
    m = make_machine(startretries=0)
    run_failing_starts(m)
    assert m.state is S.FATAL
    assert m.timer(1000.0) == []
    assert m.stop(1000.0) == []
    assert m.state is S.FATAL
    effects = m.start(1001.0)
    assert effects == [Transition(S.FATAL, S.STARTING, 0, 0), Spawn()]
    assert m.state is S.STARTING


# --- spawn failures --------------------------------------------------------------------------------------


def test_spawn_failed_goes_to_backoff_with_spawnerr() -> None:
    m = make_machine()
    m.start(20.0)
    effects = m.spawn_failed("can't find command '/nope'", 20.0)
    assert effects == [
        Log("info", "spawnerr: can't find command '/nope'"),
        Transition(S.STARTING, S.BACKOFF, 1, 0),
        ArmTimer(21.0),
    ]
    assert m.state is S.BACKOFF
    assert m.spawnerr == "can't find command '/nope'"
    assert m.pid == 0


def test_spawn_failures_exhaust_retries_to_fatal() -> None:
    m = make_machine(startretries=2)
    log: list[object] = list(m.start(0.0))
    now = 0.0
    while m.state is S.STARTING:
        log += m.spawn_failed("EMFILE", now)
        if m.state is S.BACKOFF:
            assert m.timer_at == now + m.backoff
            now = m.timer_at
            log += m.timer(now)
    assert count(log, Spawn) == 3
    assert m.state is S.FATAL
    assert m.spawnerr == "EMFILE"
    assert log[-2:] == [Transition(S.BACKOFF, S.FATAL, 0, 0), GAVE_UP]
    assert [e.at for e in log if isinstance(e, ArmTimer)] == [1.0, 3.0]


def test_spawn_failed_with_startsecs_zero_still_backs_off() -> None:
    m = make_machine(startsecs=0)
    m.start(0.0)
    m.spawn_failed("boom", 0.0)
    assert m.state is S.BACKOFF
    assert m.backoff == 1


def test_new_spawn_clears_spawnerr() -> None:
    m = make_machine()
    m.start(0.0)
    m.spawn_failed("boom", 0.0)
    assert m.spawnerr == "boom"
    m.timer(1.0)
    assert m.state is S.STARTING
    assert m.spawnerr == ""


# --- user start and the backoff counter ------------------------------------------------------------------


def test_user_start_from_backoff_resets_counter() -> None:
    m = backoff_machine()
    effects = m.start(100.5)
    assert effects == [DisarmTimer(), Transition(S.BACKOFF, S.STARTING, 0, 0), Spawn()]
    assert m.backoff == 0
    assert m.timer_at is None


def test_automatic_start_from_backoff_keeps_counter() -> None:
    m = backoff_machine()
    effects = m.start(100.5, user=False)
    assert effects == [DisarmTimer(), Transition(S.BACKOFF, S.STARTING, 1, 0), Spawn()]
    assert m.backoff == 1


def test_user_start_gives_full_retry_budget_again() -> None:
    m = make_machine(startretries=2)
    m.start(0.0)
    m.spawned(1, 0.0)
    m.exited(exit_code(1), 0.1)
    m.timer(1.1)
    m.spawned(2, 1.1)
    m.exited(exit_code(1), 1.2)
    assert m.backoff == 2
    # user restarts: 3 more spawns before FATAL, not 1
    log: list[object] = list(m.start(1.5))
    assert transitions(log) == [Transition(S.BACKOFF, S.STARTING, 0, 0)]
    now = 1.5
    while m.state is S.STARTING:
        m.spawned(10, now)
        now += 0.1
        log += m.exited(exit_code(1), now)
        if m.state is S.BACKOFF:
            now = m.timer_at  # type: ignore[assignment]
            log += m.timer(now)
    assert count(log, Spawn) == 3
    assert m.state is S.FATAL


@pytest.mark.parametrize("state", [S.STARTING, S.RUNNING, S.STOPPING])
def test_start_is_ignored_when_not_startable(state: ProcessState) -> None:
    m = running_machine() if state is not S.STARTING else starting_machine()
    if state is S.STOPPING:
        m.stop(200.0)
    assert m.state is state
    before = (m.pid, m.backoff, m.timer_at, m.laststart)
    assert m.start(300.0) == []
    assert m.state is state
    assert (m.pid, m.backoff, m.timer_at, m.laststart) == before


def test_start_is_ignored_when_unknown() -> None:
    m = running_machine()
    m.lost("EPERM")
    assert m.start(300.0) == []
    assert m.state is S.UNKNOWN


def test_start_from_exited() -> None:
    m = running_machine(autorestart=AutoRestart.NEVER)
    m.exited(exit_code(0), 200.0)
    effects = m.start(201.0)
    assert effects == [Transition(S.EXITED, S.STARTING, 0, 0), Spawn()]
    assert m.laststart == 201.0


# --- RUNNING -> EXITED and autorestart -------------------------------------------------------------------


def test_unexpected_exit_from_running() -> None:
    m = running_machine(autorestart=AutoRestart.NEVER)
    effects = m.exited(exit_code(1), 200.0)
    assert effects == [
        Transition(S.RUNNING, S.EXITED, 0, PID, expected=False),
        Log("warn", "exited: p (exit status 1; not expected)"),
    ]
    assert m.state is S.EXITED
    assert m.spawnerr == "Bad exit code 1"
    assert m.exitstatus == 1
    assert m.pid == 0
    assert m.backoff == 0


def test_expected_exit_from_running() -> None:
    m = running_machine(autorestart=AutoRestart.NEVER)
    effects = m.exited(exit_code(0), 200.0)
    assert effects == [
        Transition(S.RUNNING, S.EXITED, 0, PID, expected=True),
        Log("info", "exited: p (exit status 0; expected)"),
    ]
    assert m.spawnerr == ""
    assert m.exitstatus == 0


def test_custom_exitcodes_decide_expected() -> None:
    m = running_machine(autorestart=AutoRestart.NEVER, exitcodes=frozenset({0, 3}))
    effects = m.exited(exit_code(3), 200.0)
    assert effects[0] == Transition(S.RUNNING, S.EXITED, 0, PID, expected=True)
    assert effects[1] == Log("info", "exited: p (exit status 3; expected)")

    m = running_machine(autorestart=AutoRestart.NEVER, exitcodes=frozenset({3}))
    effects = m.exited(exit_code(0), 200.0)
    assert effects[0] == Transition(S.RUNNING, S.EXITED, 0, PID, expected=False)
    assert effects[1] == Log("warn", "exited: p (exit status 0; not expected)")
    assert m.spawnerr == "Bad exit code 0"


def test_signal_death_from_running_is_unexpected() -> None:
    m = running_machine(autorestart=AutoRestart.NEVER)
    effects = m.exited(killed_by(SIGSEGV, core=True), 200.0)
    assert effects == [
        Transition(S.RUNNING, S.EXITED, 0, PID, expected=False),
        Log("warn", "exited: p (terminated by SIGSEGV (core dumped); not expected)"),
    ]
    assert m.exitstatus == -1
    assert m.spawnerr == "Bad exit code -1"


@pytest.mark.parametrize(
    ("policy", "status", "restarts"),
    [
        (AutoRestart.ALWAYS, exit_code(0), True),
        (AutoRestart.ALWAYS, exit_code(1), True),
        (AutoRestart.ALWAYS, killed_by(SIGHUP), True),
        (AutoRestart.NEVER, exit_code(0), False),
        (AutoRestart.NEVER, exit_code(1), False),
        (AutoRestart.NEVER, killed_by(SIGHUP), False),
        (AutoRestart.UNEXPECTED, exit_code(0), False),
        (AutoRestart.UNEXPECTED, exit_code(2), False),
        (AutoRestart.UNEXPECTED, exit_code(1), True),
        (AutoRestart.UNEXPECTED, killed_by(SIGHUP), True),
    ],
)
def test_autorestart_policy(policy: AutoRestart, status: int, restarts: bool) -> None:
    m = running_machine(autorestart=policy, exitcodes=frozenset({0, 2}))
    effects = m.exited(status, 200.0)
    expected = (status >> 8) in (0, 2) and status & 0x7F == 0
    head = Transition(S.RUNNING, S.EXITED, 0, PID, expected=expected)
    assert effects[0] == head
    if restarts:
        # immediately, no delay and no backoff
        assert effects[2:] == [Transition(S.EXITED, S.STARTING, 0, 0), Spawn()]
        assert m.state is S.STARTING
        assert m.laststart == 200.0
    else:
        assert len(effects) == 2
        assert m.state is S.EXITED
        assert m.timer_at is None


def test_autorestart_clears_spawnerr_on_respawn() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS)
    m.exited(exit_code(1), 200.0)
    assert m.state is S.STARTING
    assert m.spawnerr == ""


def test_startsecs_zero_ignores_startretries() -> None:
    """Quirk #1285: with startsecs=0 no crash is too quick, so autorestart loops forever."""
    m = make_machine(startsecs=0, startretries=1, autorestart=AutoRestart.UNEXPECTED)
    log: list[object] = list(m.start(0.0))
    now = 0.0
    for i in range(10):
        log += m.spawned(100 + i, now)
        now += 0.01
        log += m.exited(exit_code(1), now)
    assert count(log, Spawn) == 11
    assert m.state is S.STARTING
    assert not any(t.new in (S.BACKOFF, S.FATAL) for t in transitions(log))
    assert all(t.tries == 0 for t in transitions(log))


# --- restartpause ----------------------------------------------------------------------------------------


def test_restartpause_delays_autorestart() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS, restartpause=3)
    effects = m.exited(exit_code(0), 200.0)
    assert effects == [
        Transition(S.RUNNING, S.EXITED, 0, PID, expected=True),
        Log("info", "exited: p (exit status 0; expected)"),
        ArmTimer(203.0),
    ]
    assert m.state is S.EXITED
    assert m.pending_restart is True
    effects = m.timer(203.0)
    assert effects == [Transition(S.EXITED, S.STARTING, 0, 0), Spawn()]
    assert m.state is S.STARTING
    assert m.pending_restart is False
    assert m.laststart == 203.0


def test_restartpause_not_used_when_no_restart_due() -> None:
    m = running_machine(autorestart=AutoRestart.UNEXPECTED, restartpause=3)
    effects = m.exited(exit_code(0), 200.0)
    assert count(effects, ArmTimer) == 0
    assert m.pending_restart is False


def test_stop_cancels_pending_restart() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS, restartpause=3)
    m.exited(exit_code(1), 200.0)
    assert m.stop(201.0) == [DisarmTimer()]
    assert m.state is S.EXITED
    assert m.pending_restart is False
    assert m.timer_at is None
    # a stale timer is harmless
    assert m.timer(203.0) == []
    assert m.state is S.EXITED


def test_shutdown_cancels_pending_restart() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS, restartpause=3)
    m.exited(exit_code(1), 200.0)
    assert m.shutdown(201.0) == [DisarmTimer()]
    assert m.pending_restart is False
    assert m.timer(203.0) == []
    assert m.state is S.EXITED


def test_user_start_during_restartpause() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS, restartpause=3)
    m.exited(exit_code(1), 200.0)
    effects = m.start(201.0)
    assert effects == [DisarmTimer(), Transition(S.EXITED, S.STARTING, 0, 0), Spawn()]
    assert m.pending_restart is False


def test_stop_in_exited_without_pending_restart_is_noop() -> None:
    m = running_machine(autorestart=AutoRestart.NEVER)
    m.exited(exit_code(0), 200.0)
    assert m.stop(201.0) == []
    assert m.state is S.EXITED


# --- stopping --------------------------------------------------------------------------------------------


def test_stop_from_running() -> None:
    m = running_machine(stopwaitsecs=10)
    effects = m.stop(300.0)
    assert effects == [
        Transition(S.RUNNING, S.STOPPING, 0, PID),
        Log("debug", f"killing p (pid {PID}) with signal SIGTERM"),
        Kill(SIGTERM, False),
        ArmTimer(310.0),
    ]
    assert m.state is S.STOPPING
    assert m.timer_at == 310.0
    assert m.pid == PID


def test_stop_from_starting_disarms_startsecs_timer() -> None:
    m = starting_machine(startsecs=5, stopwaitsecs=7)
    effects = m.stop(101.0)
    assert effects == [
        DisarmTimer(),
        Transition(S.STARTING, S.STOPPING, 0, PID),
        Log("debug", f"killing p (pid {PID}) with signal SIGTERM"),
        Kill(SIGTERM, False),
        ArmTimer(108.0),
    ]
    # the timer that fires next is the stop timer: escalation, never RUNNING
    effects = m.timer(108.0)
    assert m.state is S.STOPPING
    assert Kill(SIGKILL, False) in effects
    assert not any(t.new is S.RUNNING for t in transitions(effects))


@pytest.mark.parametrize(
    ("stopasgroup", "killasgroup"),
    [(False, False), (False, True), (True, True)],
)
def test_stop_and_kill_group_flags(stopasgroup: bool, killasgroup: bool) -> None:
    m = running_machine(stopasgroup=stopasgroup, killasgroup=killasgroup, killwaitsecs=2)
    effects = m.stop(300.0)
    assert Kill(SIGTERM, stopasgroup) in effects
    effects = m.timer(310.0)
    assert effects == [
        Log("warn", f"killing 'p' ({PID}) with SIGKILL"),
        Kill(SIGKILL, killasgroup),
        ArmTimer(312.0),
    ]
    assert m.killed is True


def test_custom_stopsignal() -> None:
    m = running_machine(stopsignals=(SIGQUIT,), stopwaitsecs=4)
    effects = m.stop(300.0)
    assert effects[1:] == [
        Log("debug", f"killing p (pid {PID}) with signal SIGQUIT"),
        Kill(SIGQUIT, False),
        ArmTimer(304.0),
    ]


def test_multiple_stopsignals_sent_in_turn_then_sigkill() -> None:
    m = running_machine(
        stopsignals=(SIGTERM, SIGINT, SIGHUP),
        stopwaitsecs=5,
        stopasgroup=True,
        killasgroup=True,
        killwaitsecs=3,
    )
    effects = m.stop(300.0)
    assert effects[1:] == [
        Log("debug", f"killing p (pid {PID}) with signal SIGTERM"),
        Kill(SIGTERM, True),
        ArmTimer(305.0),
    ]
    assert m.timer(305.0) == [
        Log("debug", f"killing p (pid {PID}) with signal SIGINT"),
        Kill(SIGINT, True),
        ArmTimer(310.0),
    ]
    assert m.timer(310.0) == [
        Log("debug", f"killing p (pid {PID}) with signal SIGHUP"),
        Kill(SIGHUP, True),
        ArmTimer(315.0),
    ]
    assert m.stopping_signal_index == 2
    assert m.timer(315.0) == [
        Log("warn", f"killing 'p' ({PID}) with SIGKILL"),
        Kill(SIGKILL, True),
        ArmTimer(318.0),
    ]
    # SIGKILL is repeated, never another stopsignal
    assert m.timer(318.0) == [
        Log("warn", f"killing 'p' ({PID}) with SIGKILL"),
        Kill(SIGKILL, True),
        ArmTimer(321.0),
    ]
    assert m.state is S.STOPPING


def test_sigkill_wait_is_at_least_one_second() -> None:
    m = running_machine(stopwaitsecs=0, killwaitsecs=0)
    effects = m.stop(300.0)
    assert effects[-1] == ArmTimer(300.0)
    effects = m.timer(300.0)
    assert effects[-2:] == [Kill(SIGKILL, False), ArmTimer(301.0)]


def test_stopping_to_stopped_by_sigterm() -> None:
    m = running_machine()
    m.stop(300.0)
    effects = m.exited(killed_by(SIGTERM), 301.0)
    assert effects == [
        DisarmTimer(),
        Transition(S.STOPPING, S.STOPPED, 0, PID),
        Log("warn", "stopped: p (terminated by SIGTERM)"),
    ]
    assert m.state is S.STOPPED
    assert m.exitstatus == -1
    assert m.pid == 0
    assert m.timer_at is None


def test_stopping_to_stopped_with_expected_exit_logs_info() -> None:
    m = running_machine()
    m.stop(300.0)
    effects = m.exited(exit_code(0), 301.0)
    assert effects == [
        DisarmTimer(),
        Transition(S.STOPPING, S.STOPPED, 0, PID),
        Log("info", "stopped: p (exit status 0)"),
    ]
    assert m.exitstatus == 0


def test_stopping_to_stopped_with_unexpected_exit_code_logs_warn() -> None:
    m = running_machine()
    m.stop(300.0)
    effects = m.exited(exit_code(143), 301.0)
    assert effects[-1] == Log("warn", "stopped: p (exit status 143)")
    assert m.exitstatus == 143


def test_stopping_to_stopped_after_sigkill() -> None:
    m = running_machine()
    m.stop(300.0)
    m.timer(310.0)
    effects = m.exited(killed_by(SIGKILL), 310.5)
    assert effects == [
        DisarmTimer(),
        Transition(S.STOPPING, S.STOPPED, 0, PID),
        Log("warn", "stopped: p (terminated by SIGKILL)"),
    ]


def test_stopped_process_does_not_autorestart() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS)
    m.stop(300.0)
    effects = m.exited(killed_by(SIGTERM), 301.0)
    assert count(effects, Spawn) == 0
    assert m.state is S.STOPPED


def test_stop_while_stopping_is_noop() -> None:
    m = running_machine()
    m.stop(300.0)
    assert m.stop(302.0) == []
    assert m.timer_at == 310.0
    assert m.stopping_signal_index == 0


def test_stop_from_backoff_goes_straight_to_stopped() -> None:
    m = backoff_machine()
    effects = m.stop(100.5)
    assert effects == [DisarmTimer(), Transition(S.BACKOFF, S.STOPPED, 1, 0)]
    assert count(effects, Kill) == 0
    assert m.state is S.STOPPED
    assert m.timer_at is None


@pytest.mark.parametrize("state", [S.STOPPED, S.FATAL])
def test_stop_in_stopped_states_is_noop(state: ProcessState) -> None:
    m = make_machine(startretries=0)
    if state is S.FATAL:
        run_failing_starts(m)
    assert m.state is state
    assert m.stop(10.0) == []
    assert m.state is state


def test_restart_after_stop_gets_fresh_stop_sequence() -> None:
    m = running_machine(stopsignals=(SIGTERM, SIGINT), stopwaitsecs=1)
    m.stop(300.0)
    m.timer(301.0)
    m.timer(302.0)  # SIGKILL
    assert m.killed is True
    m.exited(killed_by(SIGKILL), 302.5)
    m.start(400.0)
    m.spawned(PID + 1, 400.0)
    assert m.killed is False
    m.timer(401.0)
    effects = m.stop(500.0)
    assert Kill(SIGTERM, False) in effects
    assert m.stopping_signal_index == 0
    assert m.timer(501.0)[1] == Kill(SIGINT, False)


# --- shutdown --------------------------------------------------------------------------------------------


def test_shutdown_turns_backoff_into_fatal() -> None:
    m = backoff_machine()
    effects = m.shutdown(100.5)
    assert effects == [DisarmTimer(), Transition(S.BACKOFF, S.FATAL, 0, 0), GAVE_UP]
    assert m.state is S.FATAL
    assert m.backoff == 0
    assert m.shutting_down is True


@pytest.mark.parametrize("state", [S.RUNNING, S.STARTING, S.STOPPED])
def test_shutdown_elsewhere_changes_no_state(state: ProcessState) -> None:
    if state is S.RUNNING:
        m = running_machine()
    elif state is S.STARTING:
        m = starting_machine()
    else:
        m = make_machine()
    assert m.shutdown(150.0) == []
    assert m.state is state
    assert m.shutting_down is True


def test_shutdown_suppresses_autorestart() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS)
    m.shutdown(150.0)
    effects = m.exited(exit_code(1), 151.0)
    assert effects == [
        Transition(S.RUNNING, S.EXITED, 0, PID, expected=False),
        Log("warn", "exited: p (exit status 1; not expected)"),
    ]
    assert m.state is S.EXITED


def test_shutdown_suppresses_restartpause_restart() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS, restartpause=3)
    m.shutdown(150.0)
    effects = m.exited(exit_code(1), 151.0)
    assert count(effects, ArmTimer) == 0
    assert m.pending_restart is False


def test_shutdown_makes_a_failed_start_fatal_without_retry() -> None:
    m = starting_machine(startretries=5)
    m.shutdown(100.1)
    effects = m.exited(exit_code(1), 100.2)
    assert effects == [
        Log("warn", "exited: p (exit status 1; not expected)"),
        DisarmTimer(),
        Transition(S.STARTING, S.BACKOFF, 1, 0),
        Transition(S.BACKOFF, S.FATAL, 0, 0),
        GAVE_UP,
    ]
    assert count(effects, ArmTimer) == 0


def test_backoff_timer_during_shutdown_gives_up() -> None:
    m = backoff_machine()
    m.shutting_down = True  # as if the timer raced the shutdown
    effects = m.timer(101.1)
    assert effects == [Transition(S.BACKOFF, S.FATAL, 0, 0), GAVE_UP]
    assert count(effects, Spawn) == 0


def test_resume_allows_autorestart_again() -> None:
    m = running_machine(autorestart=AutoRestart.ALWAYS)
    m.shutdown(150.0)
    m.resume()
    assert m.shutting_down is False
    effects = m.exited(exit_code(1), 151.0)
    assert effects[-2:] == [Transition(S.EXITED, S.STARTING, 0, 0), Spawn()]


def test_user_start_clears_shutting_down() -> None:
    m = make_machine(autorestart=AutoRestart.ALWAYS)
    m.shutdown(0.0)
    m.start(1.0)
    assert m.shutting_down is False


def test_automatic_start_keeps_shutting_down_flag() -> None:
    m = make_machine()
    m.shutdown(0.0)
    m.start(1.0, user=False)
    assert m.shutting_down is True


# --- lost -> UNKNOWN -------------------------------------------------------------------------------------


def test_lost_from_running() -> None:
    m = running_machine()
    effects = m.lost("EPERM")
    assert effects == [
        Transition(S.RUNNING, S.UNKNOWN, 0, PID),
        Log("crit", "unknown problem with p: EPERM"),
    ]
    assert m.state is S.UNKNOWN
    assert m.spawnerr == "EPERM"


def test_lost_from_stopping_disarms_timer() -> None:
    m = running_machine()
    m.stop(300.0)
    effects = m.lost("kill failed")
    assert effects == [
        DisarmTimer(),
        Transition(S.STOPPING, S.UNKNOWN, 0, PID),
        Log("crit", "unknown problem with p: kill failed"),
    ]
    assert m.timer_at is None


# --- odd inputs ------------------------------------------------------------------------------------------


def test_reap_without_child_only_records_status() -> None:
    m = make_machine()
    assert m.exited(exit_code(5), 10.0) == []
    assert m.state is S.STOPPED
    assert m.exitstatus == 5


def test_stale_timer_in_running_does_nothing() -> None:
    m = running_machine()
    assert m.timer(500.0) == []
    assert m.state is S.RUNNING


def test_full_lifecycle_transition_sequence() -> None:
    m = make_machine(autorestart=AutoRestart.UNEXPECTED)
    log: list[object] = []
    log += m.start(0.0)
    log += m.spawned(11, 0.0)
    log += m.timer(1.0)
    log += m.exited(exit_code(1), 5.0)  # unexpected -> autorestart
    log += m.spawned(12, 5.0)
    log += m.timer(6.0)
    log += m.stop(7.0)
    log += m.exited(killed_by(SIGTERM), 7.5)
    assert transitions(log) == [
        Transition(S.STOPPED, S.STARTING, 0, 0),
        Transition(S.STARTING, S.RUNNING, 0, 11),
        Transition(S.RUNNING, S.EXITED, 0, 11, expected=False),
        Transition(S.EXITED, S.STARTING, 0, 0),
        Transition(S.STARTING, S.RUNNING, 0, 12),
        Transition(S.RUNNING, S.STOPPING, 0, 12),
        Transition(S.STOPPING, S.STOPPED, 0, 12),
    ]
    assert count(log, Spawn) == 2
    assert m.state is S.STOPPED


# --- a stop that arrives while the spawn is in flight (the fork/exec window) ---


def test_stop_in_fork_window_survives_spawned_with_startsecs_zero() -> None:
    m = make_machine(startsecs=0)
    m.start(0.0)
    m.stop(0.0)
    assert m.state is S.STOPPING
    effects = m.spawned(PID, 0.0)
    assert m.state is S.STOPPING
    assert not any(t.new is S.RUNNING for t in transitions(effects))


def test_stop_in_fork_window_keeps_stopwaitsecs_timer() -> None:
    m = make_machine(startsecs=1, stopwaitsecs=10)
    m.start(0.0)
    m.stop(0.0)
    assert m.timer_at == 10.0
    m.spawned(PID, 0.0)
    assert m.timer_at == 10.0


def test_spawn_failed_after_stop_does_not_retry() -> None:
    m = make_machine()
    m.start(0.0)
    m.stop(0.0)
    effects = m.spawn_failed("ENOENT", 0.0)
    assert m.state in STOPPED_STATES
    assert count(effects, ArmTimer) == 0
