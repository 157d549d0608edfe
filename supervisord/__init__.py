"""supervisord-py: a process control system, a drop-in replacement for Supervisor 4."""

__version__ = "0.1.0"
# What supervisor.getSupervisorVersion reports, so Supervisor's own clients see the release they expect.
SUPERVISOR_COMPAT_VERSION = "4.3.0"
API_VERSION = "3.0"
