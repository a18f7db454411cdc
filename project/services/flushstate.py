"""flushstate: drop every cached migration-history state (project.engine.scratch).

Django has no such command: its test databases are dropped after each run. Here the
scratch states are kept between runs to make makemigrations fast, and dropped when stale
(SCRATCH_DATABASE_MAX_AGE); this drops them now: this project's `.manage_cache/` files and,
on a PostgreSQL/MariaDB server, every `mstate_*` database no run is using (any project's:
each is rebuilt when needed). Nothing of the configured database is touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from project.engine.scratch import ClearedStates, clear_states
from project.engine.workspace import Workspace

if TYPE_CHECKING:
    from project.settings import Settings


def flushstate(settings: Settings) -> ClearedStates:
    return clear_states(Workspace(settings))
