"""The one exception type that reaches the user as a single line and exit status 2."""


class UserError(Exception):
    """Bad input from the user: printed as one line by the CLI, never as a traceback."""
