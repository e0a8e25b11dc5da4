"""The exception types that reach the user as a single line, never as a traceback."""


class UserError(Exception):
    """Bad input from the user: printed as one line by the CLI, never as a traceback (exit 2)."""


class Unavailable(UserError):
    """Good input, but what it needs cannot be had: an unreachable database, data that is missing
    or corrupted. One line like a UserError, exit status 1."""


class Interrupted(Exception):
    """A run stopped by its time limit at an epoch end, its whole state saved for a resume."""
