"""One error root for everything concur reports to the user.

The CLI catches `ConcurError` once and prints its message as a single line with exit
code 2 (`exit_code` lets a subclass choose another). The user's own exceptions inside
a workload are never raised through here: trials count and summarise them.
"""

from __future__ import annotations


class ConcurError(Exception):
    """A problem the user can fix; `str(err)` is the one line we print."""

    exit_code = 2


class WorkloadError(ConcurError):
    """The target cannot be loaded or is not a usable workload."""


class ConfigError(ConcurError):
    """A flag, a threshold or a configuration file is invalid."""


class InputError(ConcurError):
    """An input file (records, results) is missing or unreadable."""


class ResultsError(InputError):
    """A results file is missing, malformed or of another schema version."""


class ServiceLost(ConcurError):
    """A service the run needs (an embedded database server) stopped while trials ran: the
    run stops there and says so; what was measured before is kept."""

    exit_code = 4
