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

    from project.history import History
    from project.settings import Settings


class Workspace:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def apps(self) -> list[AppConfig]:
        return get_app_configs(self.settings)

    @cached_property
    def config(self) -> Config:
        from project.alembic_config import build_config

        return build_config(self.settings, self.apps)

    @cached_property
    def script(self) -> ScriptDirectory:
        from project.alembic_config import script_directory

        return script_directory(self.config)

    @cached_property
    def history(self) -> History:
        from project.history import load_history

        return load_history(self.script, self.apps)

    @cached_property
    def engine(self) -> Engine:
        from project.database import create_engine

        return create_engine(self.settings)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        from project.database import connect

        with connect(self.engine, self.settings) as connection:
            yield connection

    def version_rows(self, connection: Connection) -> tuple[str, ...]:
        """The rows of Alembic's version table (empty when it does not exist yet)."""
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(connection)
        rows = context.get_current_heads()
        connection.commit()  # close the read transaction before anything else begins one
        return rows

    def run_alembic(self, connection: Connection, command: Any, *args: Any, **options: Any) -> Any:
        """Run an `alembic.command` function with env.py using our connection and options."""
        self.config.attributes["connection"] = connection
        self.config.attributes["configure_options"] = options.pop("configure_options", {})
        return command(self.config, *args, **options)
