"""project.adapter.deferred_impls: Alembic's PostgreSQL support is imported only when used.

Alembic is already imported in the test process, so the in-process checks run in a fresh
interpreter each (`_fresh`); the end-to-end ones run the real migrate."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import Project

from project.adapter import deferred_impls


def _fresh(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return completed.stdout.strip()


def test_deferred_module_is_not_run_by_importing_alembic() -> None:
    out = _fresh("""
        import sys
        from project.adapter.deferred_impls import defer_unused, is_deferred
        defer_unused("sqlite")
        import alembic.config, alembic.ddl
        from alembic.runtime.environment import EnvironmentContext
        print(is_deferred("postgresql"), "sqlalchemy.dialects.postgresql" in sys.modules,
              sorted(alembic.ddl.impl._impls))
    """)
    assert out == "True False ['default', 'mariadb', 'mssql', 'mysql', 'oracle', 'sqlite']"


def test_first_look_up_runs_it_in_the_same_module() -> None:
    out = _fresh("""
        import sys
        from project.adapter.deferred_impls import defer_unused, is_deferred
        defer_unused("sqlite")
        import alembic.ddl
        placeholder = alembic.ddl.postgresql
        from alembic.ddl.postgresql import PostgresqlImpl
        print(is_deferred("postgresql"), sys.modules["alembic.ddl.postgresql"] is placeholder,
              alembic.ddl.impl._impls["postgresql"] is PostgresqlImpl,
              type(placeholder).__name__)
    """)
    assert out == "False True True module"


def test_load_runs_it_for_its_database() -> None:
    out = _fresh("""
        from project.adapter.deferred_impls import defer_unused, is_deferred, load
        defer_unused("sqlite")
        import alembic.ddl
        load("sqlite")  # nothing deferred for it
        print(is_deferred("postgresql"), end=" ")
        load("postgresql")
        from alembic.operations import Operations
        print(is_deferred("postgresql"), "postgresql" in alembic.ddl.impl._impls,
              hasattr(Operations, "create_exclude_constraint"))
    """)
    assert out == "True False True True"


def test_nothing_is_deferred_for_its_own_database_or_once_alembic_is_imported() -> None:
    out = _fresh("""
        from project.adapter.deferred_impls import defer_unused, is_deferred
        defer_unused("postgresql")
        print(is_deferred("postgresql"), end=" ")
        import alembic.ddl
        defer_unused("sqlite")
        print(is_deferred("postgresql"))
    """)
    assert out == "False False"
    assert not deferred_impls.is_deferred("mysql")


def test_an_engine_for_postgresql_loads_it() -> None:
    out = _fresh("""
        from project.adapter.deferred_impls import defer_unused, is_deferred
        from project.backends.connections import create_engine
        from project.settings import Settings
        defer_unused("sqlite")
        import alembic.ddl
        from pathlib import Path
        settings = Settings(module="settings", base_dir=Path("."), installed_apps=(),
                            database_url="postgresql+psycopg://u:p@127.0.0.1:1/x")
        create_engine(settings)
        print(is_deferred("postgresql"), "postgresql" in alembic.ddl.impl._impls)
    """)
    assert out == "False True"


def test_migrate_on_sqlite_leaves_postgresql_support_unimported(sqlite_project: Project) -> None:
    result = sqlite_project.python(
        "import os, sys; sys.argv = ['manage.py', 'migrate', '-v', '0']\n"
        "os.environ.setdefault('MANAGE_SETTINGS_MODULE', 'settings')\n"
        "from project.cli import main\n"
        "try:\n    main.main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print('alembic.ddl.postgresql' in sys.modules and "
        "not type(sys.modules['alembic.ddl.postgresql']).__name__ == '_Deferred', "
        "'sqlalchemy.dialects.postgresql' in sys.modules)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False"
    assert sqlite_project.run("showmigrations").stdout.count("[X]") >= 1


def test_a_migration_using_alembic_postgresql_names_still_runs(sqlite_project: Project) -> None:
    """A migration file that imports from alembic.ddl.postgresql (on any database)."""
    migrations = sqlite_project.file("apps/pets/migrations")
    (migrations / "0099_pg_names.py").write_text(
        textwrap.dedent('''\
        """pets.0099_pg_names"""

        import sqlalchemy as sa
        from alembic import op
        from alembic.ddl.postgresql import PostgresqlImpl

        revision = "pets_0099_pg_names"
        down_revision = {down!r}
        branch_labels = None
        depends_on = None


        def upgrade() -> None:
            assert PostgresqlImpl.__dialect__ == "postgresql"
            op.create_table("pets_pg_names", sa.Column("id", sa.Integer(), primary_key=True))


        def downgrade() -> None:
            op.drop_table("pets_pg_names")
        ''').format(down=_leaf(sqlite_project))
    )
    result = sqlite_project.run("migrate")
    assert result.returncode == 0, result.stderr
    assert "pets_pg_names" in sqlite_project.tables()


def _leaf(project: Project) -> str:
    import re

    names = project.migrations("pets")
    text = project.file(f"apps/pets/migrations/{names[-1]}").read_text()
    found = re.search(r'^revision(?:: str)? = "([^"]+)"', text, re.MULTILINE)
    assert found
    return found.group(1)


def test_the_module_deferred_is_where_alembic_keeps_it() -> None:
    """A release that moves alembic/ddl/postgresql.py makes defer_unused do nothing (the
    placeholder would have no code to run); this says it no longer saves anything."""
    out = _fresh("""
        from project.adapter.deferred_impls import defer_unused, is_deferred
        defer_unused("mysql")
        print(is_deferred("postgresql"))
    """)
    assert out == "True"
