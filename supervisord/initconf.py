"""``supervisord init [-o FILE]``: a commented configuration to start from.

Every section is there, the common keys with their defaults (commented out, so that changing a default in
the code cannot silently disagree with the file), and the Go project's extensions marked as such. Paths use
``%(here)s``, so the file works from whatever directory it is written to, and it loads without errors
(``supervisord check`` on it exits 0).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

TEMPLATE = """\
; supervisord-py configuration, written by `supervisord init`.
; Same format as Supervisor 4 (http://supervisord.org/configuration.html) plus the Go supervisord
; extensions (marked "Go"). Lines starting with ';' are comments: the values shown there are the defaults.
; Check this file with `supervisord check -c FILE`; %(here)s is the directory of this file.

[unix_http_server]
file = %(here)s/supervisor.sock  ; the socket supervisorctl talks to
;chmod = 0700                    ; socket file mode
;chown = nobody:nogroup          ; socket file owner (user or user:group)
;username = user                 ; username and password go together (default: no authentication)
;password = 123                  ; cleartext, or {SHA} followed by the SHA-1 hex digest

[inet_http_server]
port = 127.0.0.1:9001            ; XML-RPC at /RPC2, the web GUI, REST and /metrics (host:port or :port)
;username = user
;password = 123
;nodename = %(host_node_name)s   ; Go: this node's name in the GUI
;remotes = other:10.0.0.2:9001   ; Go: other nodes shown in the GUI (name:host:port, comma-separated)

[supervisord]
logfile = %(here)s/supervisord.log  ; main log; /dev/stdout (containers) and syslog work too
pidfile = %(here)s/supervisord.pid
;logfile_maxbytes = 50MB          ; rotate the main log at this size (0 = never)
;logfile_backups = 10             ; rotated main logs to keep
;loglevel = info                  ; critical, error, warn, info, debug, trace, blather
;nodaemon = false                 ; true: stay in the foreground (-n); containers and systemd want true
;silent = false                   ; true: no log on stdout in the foreground
;minfds = 1024                    ; raise the open-files limit to at least this
;minprocs = 200                   ; raise the process limit to at least this
;umask = 022
;user = nobody                    ; switch to this user after binding the sockets (when started as root)
;directory = /tmp                 ; chdir here when daemonizing
;childlogdir = /tmp               ; where AUTO child logs go (default: the temp directory)
;nocleanup = false                ; true: keep old AUTO child logs at startup
;strip_ansi = false               ; true: strip ANSI escapes from child logs
;identifier = supervisor          ; this supervisord's name over XML-RPC
;environment = KEY="value",K2=v2  ; added to every program's environment

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl = unix://%(here)s/supervisor.sock  ; or http://127.0.0.1:9001
;username = user                  ; as in the server section
;password = 123
;prompt = supervisor
;history_file = ~/.sc_history

; Go: keys written here are the defaults of every [program:x] (not of event listeners).
[program-default]
;autorestart = unexpected
;stdout_logfile_maxbytes = 50MB

[program:example]
command = /bin/sleep 3600         ; the program (relative paths are searched on PATH); no shell
autostart = false                 ; this example only starts by hand: `supervisord ctl start example`
;process_name = %(program_name)s  ; must contain %(process_num)d when numprocs > 1
;numprocs = 1
;numprocs_start = 0
;priority = 999                   ; lower starts first and stops last
;autostart = true
;autorestart = unexpected         ; true, false or unexpected (an exit code not in exitcodes)
;startsecs = 1                    ; it must stay up this long to count as started
;startretries = 3                 ; failed starts before FATAL; forever: never give up
;exitcodes = 0                    ; the expected exit codes
;stopsignal = TERM                ; TERM, HUP, INT, QUIT, KILL, USR1, USR2; Go: several, e.g. TERM INT KILL
;stopwaitsecs = 10                ; wait this long after stopsignal before SIGKILL
;stopasgroup = false              ; send stopsignal to the whole process group
;killasgroup = false              ; SIGKILL the whole process group (default: as stopasgroup)
;user = nobody
;directory = /tmp
;umask = 022
;environment = A="1",B="2"
;redirect_stderr = false          ; true: stderr goes into the stdout log
;stdout_logfile = AUTO            ; a path, AUTO, NONE, syslog, /dev/stdout; Go: several, comma-separated
;stdout_logfile_maxbytes = 50MB
;stdout_logfile_backups = 10
;stdout_capture_maxbytes = 0      ; PROCESS_COMMUNICATION events
;stdout_events_enabled = false    ; PROCESS_LOG events
;stdout_syslog = false            ; also send the output to syslog
;stderr_logfile = AUTO
;stderr_logfile_maxbytes = 50MB
;stderr_logfile_backups = 10
;stderr_capture_maxbytes = 0
;stderr_events_enabled = false
;stderr_syslog = false
;serverurl = AUTO                 ; SUPERVISOR_SERVER_URL given to the program
; Go extensions:
;envFiles = %(here)s/example.env  ; dotenv files (comma-separated); environment= wins over them
;depends_on = other               ; start after these programs (comma-separated)
;restartpause = 0                 ; seconds to wait before a restart
;killwaitsecs = 2                 ; after SIGKILL, wait this long for the exit
;restart_when_binary_changed = false
;restart_cmd_when_binary_changed = /bin/kill -HUP $PID
;restart_signal_when_binary_changed = HUP
;restart_directory_monitor = /etc/example
;restart_file_pattern = *
;restart_cmd_when_file_changed = /bin/kill -HUP $PID
;restart_signal_when_file_changed = HUP
;syslog_facility = user
;syslog_tag = example
;syslog_stdout_priority = info
;syslog_stderr_priority = err
; Operations (README "Readiness, health checks..." and "Cron, hooks..."); examples, all unset by default:
;readiness_check = notify         ; RUNNING once ready: notify (sd_notify), http(s)://URL, tcp://HOST:PORT, script://CMD
;readiness_check_period = 1       ; seconds between readiness polls (startsecs becomes the deadline)
;readiness_watchdog_sec = 30      ; notify only: restart when no WATCHDOG=1 came for this long
;liveness_check_script = http://127.0.0.1:8080/health  ; Go: http(s)://URL, tcp://HOST:PORT or a command
;liveness_check_initial_delay = 60  ; Go: seconds after RUNNING before the first check
;liveness_check_period = 60       ; Go: seconds between checks
;liveness_check_timeout = 30      ; Go: a check that takes longer fails
;liveness_check_success_threshold = 1  ; Go: passes in a row that make a failing program healthy again
;liveness_check_failure_threshold = 3  ; Go: failures in a row before the failure action
;liveness_check_success_action = /bin/echo healthy  ; Go: a command run when a failing check passes again
;liveness_check_failure_action = restart  ; Go: restart, stop or a command
;cron = 0 30 2 * * *              ; Go: start on a schedule (6 fields: seconds first; 5: minute first)
;cron_timezone = UTC              ; an IANA time zone for cron (default: local)
;pre_start_hook = /bin/true       ; a command run before each spawn; its failure fails the start
;post_start_hook = /bin/true      ; run once RUNNING
;pre_stop_hook = /bin/true        ; the stop signal waits for it to finish
;post_stop_hook = /bin/true       ; run after STOPPED or EXITED
;hook_timeout = 60                ; seconds before a running hook is killed
;backoff_initial = 1              ; seconds before the first retry
;backoff_factor = 2               ; delay times this per retry (unset: Supervisor's 1 s, 2 s, 3 s ...)
;backoff_max = 60                 ; the longest delay
;backoff_jitter = 0.1             ; +/- this fraction of the delay
;backoff_reset_after = 300        ; seconds RUNNING before the retry count starts again
;rlimit_nofile = 65536            ; open files; one number sets soft and hard
;rlimit_core = unlimited          ; core dump size
;rlimit_nproc = 4096              ; processes of the program's user
;rlimit_as = unlimited            ; address space
;stdout_log_format = raw          ; raw, timestamped or json (one object a line)
;stderr_log_format = raw          ; the same for stderr
;stdout_logfile_rotate = daily    ; hourly or daily, beside stdout_logfile_maxbytes
;stderr_logfile_rotate = daily    ; the same for stderr
;stdout_logfile_compress = gzip   ; rotated copies become NAME.1.gz, NAME.2.gz ...
;stderr_logfile_compress = gzip   ; the same for stderr
;memory_max = 512MB               ; cgroup v2: memory cap of the program's cgroup
;cpu_max = 50%%                    ; cgroup v2: CPU cap (50%% of one CPU, or QUOTA PERIOD in microseconds)
;pids_max = 100                   ; cgroup v2: processes and threads at most

[group:examples]
programs = example                ; comma-separated program names, started and stopped together
;priority = 999

; An event listener speaks the listener protocol on stdin/stdout (e.g. superlance's crashmail).
;[eventlistener:crashmail]
;command = crashmail -a -m root@localhost
;events = PROCESS_STATE_EXITED    ; comma-separated event types (required)
;buffer_size = 10                 ; events queued while all listeners are busy
;result_handler = supervisor.dispatchers:default_handler

; More configuration files; globs are relative to this file.
;[include]
;files = conf.d/*.conf
"""


def main(args: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="supervisord init", description="Write a commented configuration.")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing FILE")
    opts = p.parse_args(list(args))
    if not opts.output or opts.output == "-":
        sys.stdout.write(TEMPLATE)
        return 0
    try:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if opts.force else os.O_EXCL)
        fd = os.open(opts.output, flags, 0o644)
    except FileExistsError:
        print(f"Error: {opts.output} exists (use --force to overwrite it)", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Error: cannot write {opts.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w") as fh:
        fh.write(TEMPLATE)
    print(f"Wrote {opts.output}; check it with: supervisord check -c {opts.output}", file=sys.stderr)
    return 0
