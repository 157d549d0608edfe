"""supervisord-py: a process control system, a drop-in replacement for Supervisor 4."""

__version__ = "0.1.0"
# The one place for both versions. What supervisor.getSupervisorVersion reports, so Supervisor's own clients
# see the release they expect; and the XML-RPC API version (getAPIVersion, checked by ``ctl``).
SUPERVISOR_COMPAT_VERSION = "4.3.0"
API_VERSION = "3.0"
