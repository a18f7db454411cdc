"""One command's view of the project: settings, apps, Alembic config, history, database.

Everything is computed on first use, so a command pays only for what it touches
(`showmigrations` never imports models or Alembic's autogenerate).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from project.apps import AppConfig, get_app_configs

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection, Engine

    from project.engine.history import History
    from project.engine.squash_view import SquashView
    from project.settings import Settings


class Workspace:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ghosts: list[Any] = []  # version rows no file has (see applied_rows)
        self.unsquashed: frozenset[str] = (
            frozenset()
        )  # squashed ranges this database needs unsquashed

    @cached_property
    def apps(self) -> list[AppConfig]:
        return get_app_configs(self.settings)

    @cached_property
    def config(self) -> Config:
        from project.engine.config import build_config

        return build_config(self.settings, self.apps)

    @cached_property
    def view(self) -> SquashView:
        """Which migrations this database sees (project.engine.squash_view decides)."""
        from project.engine.squash_view import SquashView

        return SquashView(self.config, self.unsquashed)

    @property
    def script(self) -> ScriptDirectory:
        return self.view.script

    @cached_property
    def history(self) -> History:
        from project.engine import status_cache
        from project.engine.history import load_history

        # The key of the files before they are read: one edited meanwhile makes it stale.
        key = status_cache.files_key(self.apps)
        history = load_history(self.script, self.apps)
        if not self.unsquashed:  # the view a status command starts from
            status_cache.write(self.settings.base_dir, key, history)
        return history

    @cached_property
    def engine(self) -> Engine:
        from project.backends.connections import create_engine

        return create_engine(self.settings)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        from project.backends.connections import connect

        with connect(self.engine, self.settings) as connection:
            yield connection

    def applied_rows(
        self, connection: Connection, restamp: bool = False, ghosts_ok: bool = False
    ) -> tuple[str, ...]:
        """The version rows, as the migration files on disk can explain them.

        Squashed ranges: project.engine.squash_view.settle says which view the rows need
        (and with `restamp` moves rows onto a squash the database applied all of).

        Ghosts: a revision no file has (applied on another git branch, or deleted) is an
        error that says how to recover; with `ghosts_ok` it is replaced by what it followed
        (from our history table) and listed in `self.ghosts`.
        """
        from project.engine.squash_view import settle

        rows = settle(self, connection, self.version_rows(connection), restamp)
        ghosts = [row for row in rows if row not in self.history.by_revision]
        if not ghosts:
            return rows
        from project.engine.history import GhostRevisionError
        from project.engine.recorder import read

        records = read(connection)
        if not ghosts_ok and len(ghosts) == len(rows) and not set(ghosts) & set(records):
            from project.engine.history import ForeignHistoryError

            raise ForeignHistoryError(ghosts)
        if not ghosts_ok:
            raise GhostRevisionError(ghosts, records)
        self.ghosts = [records.get(ghost) or ghost for ghost in ghosts]
        parents = _known_ancestors(ghosts, records, set(self.history.by_revision))
        return tuple(dict.fromkeys([row for row in rows if row not in ghosts] + parents))

    def use_view(self, unsquashed: frozenset[str]) -> None:
        """See these squashed ranges as the migrations they replace (project.engine.squash_view)."""
        self.unsquashed = unsquashed
        self.__dict__.pop("view", None)
        self.__dict__.pop("history", None)

    def version_rows(self, connection: Connection) -> tuple[str, ...]:
        """The rows of Alembic's version table (empty when it does not exist yet)."""
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(connection)
        rows = context.get_current_heads()
        connection.commit()  # close the read transaction before anything else begins one
        return rows


def _known_ancestors(ghosts: list[str], records: dict[str, Any], known: set[str]) -> list[str]:
    """What the ghosts followed, walking our history table back to revisions on disk.
    A ghost our history never recorded (the version table was edited by hand) has no
    known ancestors: what it followed shows as not applied."""
    found: list[str] = []
    todo = list(ghosts)
    while todo:
        record = records.get(todo.pop())
        for parent in record.parents if record else ():
            (found if parent in known else todo).append(parent)
    return found
