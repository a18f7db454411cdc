"""What this process has done that decides how it may leave (project.cli.main.leave).

The fast exit skips the interpreter's teardown, and with it the finalisation of objects:
a file that an app command opened and never closed would lose what was buffered. So it is
taken only while no user code (an app command, a data migration) has run.
"""

from __future__ import annotations

_user_code_ran = False


def note_user_code() -> None:
    global _user_code_ran
    _user_code_ran = True


def user_code_ran() -> bool:
    return _user_code_ran
