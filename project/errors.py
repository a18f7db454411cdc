"""The one error type of the framework.

Library code raises `ProjectError`; only `project.cli.main` turns it into a one-line
message and an exit code (as Django's `CommandError` and `run_from_argv`).
"""

from __future__ import annotations


class ProjectError(Exception):
    """A failure the user can fix; its message says what is wrong and how to fix it."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(ProjectError):
    """Bad arguments: an unknown app label, an unknown migration name, a missing option."""

    exit_code = 2


class SettingsError(ProjectError):
    """The settings module cannot be imported or holds an invalid value."""


class DatabaseError(ProjectError):
    """The database cannot be reached, or is in a state the command cannot work with."""
