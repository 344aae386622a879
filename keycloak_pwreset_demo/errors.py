"""The one exception the demo machinery raises for expected failures."""


class DemoError(Exception):
    """An expected failure with a one-line, user-facing explanation.

    The CLI prints ``str(error)`` and exits without a traceback: a missing Maven, an old Java or
    a busy port is a setup problem for the person running the demo, not a bug.
    """
