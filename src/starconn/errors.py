"""The errors starconn reports to a user, in one module that every layer may import.

* :class:`ParamError` – a chapter, profile, parameter name or value is not allowed (exit code 2).
* :class:`ChapterFailed` – a chapter's notebook raised, e.g. its claim cell failed (exit code 1).
* :class:`SweepError` – a sweep cannot start: Dask is missing or the scheduler is unreachable.
"""


class ParamError(ValueError):
    """A parameter is unknown, of the wrong type or out of range."""


class ChapterFailed(RuntimeError):
    """A chapter's notebook raised (e.g. its claim cell failed)."""


class SweepError(RuntimeError):
    """Dask is missing or the scheduler cannot be reached."""
