"""manage.py for SQLAlchemy: Django's migration workflow on Alembic.

What a project imports from here (loaded on first use, so `import project` stays cheap):

    from project import Model, data_migration, call_command, setup, session, ProjectError

    settings = setup()           # the settings, found as manage.py finds them
    call_command("migrate")      # any command, as `python manage.py migrate`
    with session(settings) as db:  # an ORM session on DATABASE_URL, committed at the end
        ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from project.cli.registry import call_command, setup
    from project.data import data_migration
    from project.db import Model
    from project.errors import ProjectError
    from project.settings import Settings

__all__ = [
    "Model",
    "ProjectError",
    "Settings",
    "call_command",
    "data_migration",
    "session",
    "setup",
]

_EXPORTS = {
    "Model": "project.db",
    "ProjectError": "project.errors",
    "Settings": "project.settings",
    "call_command": "project.cli.registry",
    "data_migration": "project.data",
    "session": "project.backends.connections",
    "setup": "project.cli.registry",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'project' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
