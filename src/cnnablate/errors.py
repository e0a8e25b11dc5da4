"""The exception types that reach the user as a single line, never as a traceback."""


class UserError(Exception):
    """Bad input from the user: printed as one line by the CLI, never as a traceback."""


class Interrupted(Exception):
    """A run stopped by its time limit at an epoch end, its whole state saved for a resume."""
