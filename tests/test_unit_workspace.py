"""project.engine.workspace in process: one command's lazy view of the project, and the
version rows as the migration files explain them (ghosts, squashed ranges)."""

from __future__ import annotations

import pytest
from tiny_project import TinyProject

from project.engine.history import ForeignHistoryError, GhostRevisionError
from project.engine.workspace import Workspace
from project.errors import SettingsError
from project.services.migrate import migrate

TABLE = "op.create_table('shop_{0}', sa.Column('id', sa.Integer(), nullable=False))"
SQUASH = "shop_0001_squashed_0002_more"


def _three_migrations(tiny: TinyProject) -> tuple[str, str, str]:
    crm = tiny.migration(
        "crm", "0001_initial", "op.create_table('crm_x', sa.Column('id', sa.Integer()))"
    )
    first = tiny.migration("shop", "0001_initial", TABLE.format("item"))
    second = tiny.migration("shop", "0002_more", TABLE.format("more"), down=first)
    return crm, first, second


def _rows(tiny: TinyProject) -> set[str]:
    return {str(row[0]) for row in tiny.execute("SELECT version_num FROM alembic_version")}


def test_nothing_is_read_before_it_is_asked_for(tiny: TinyProject) -> None:
    settings = tiny.settings
    broken = type(settings)(**{**settings.__dict__, "installed_apps": ("no_such_app_anywhere",)})
    workspace = Workspace(broken)  # the bad app is not looked for yet
    with pytest.raises(SettingsError, match="'no_such_app_anywhere'"):
        workspace.apps  # noqa: B018


def test_apps_config_and_history_come_from_the_settings(tiny: TinyProject) -> None:
    crm, first, second = _three_migrations(tiny)
    workspace = Workspace(tiny.settings)
    assert [app.label for app in workspace.apps] == ["crm", "shop"]
    locations = workspace.config.get_main_option("version_locations") or ""
    assert [str(tiny.migrations_dir(label)) for label in ("crm", "shop")] == locations.split(":")
    assert workspace.config.get_main_option("script_location") == str(tiny.root / "migrations")
    assert workspace.config.attributes["settings"] == tiny.settings
    keys = [m.key for m in workspace.history.migrations]  # in an order they apply in
    assert sorted(keys) == ["crm.0001_initial", "shop.0001_initial", "shop.0002_more"]
    assert keys.index("shop.0001_initial") < keys.index("shop.0002_more")
    assert {m.revision for m in workspace.history.migrations} == {crm, first, second}


def test_version_rows_of_an_empty_and_a_migrated_database(tiny: TinyProject) -> None:
    crm, _, second = _three_migrations(tiny)
    workspace = Workspace(tiny.settings)
    with workspace.connect() as connection:
        assert workspace.version_rows(connection) == ()
        assert workspace.applied_rows(connection) == ()
    migrate(tiny.settings)
    with workspace.connect() as connection:
        assert set(workspace.version_rows(connection)) == {crm, second}
        assert set(workspace.applied_rows(connection)) == {crm, second}
    assert workspace.ghosts == []


def test_a_recorded_ghost_is_an_error_or_replaced_by_what_it_followed(tiny: TinyProject) -> None:
    crm, first, second = _three_migrations(tiny)
    migrate(tiny.settings)
    (tiny.migrations_dir("shop") / "0002_more.py").unlink()  # applied, then deleted
    workspace = Workspace(tiny.settings)
    with workspace.connect() as connection:
        with pytest.raises(GhostRevisionError) as raised:
            workspace.applied_rows(connection)
        assert "shop.0002_more applied, but no migration file" in str(raised.value)
        assert "run 'migrate --prune' to forget it" in str(raised.value)
        assert set(workspace.applied_rows(connection, ghosts_ok=True)) == {crm, first}
    (ghost,) = workspace.ghosts
    assert (ghost.app, ghost.name, ghost.revision) == ("shop", "0002_more", second)


def test_a_row_nobody_recorded_is_a_ghost_without_ancestors(tiny: TinyProject) -> None:
    crm, _, second = _three_migrations(tiny)
    migrate(tiny.settings)
    tiny.execute("INSERT INTO alembic_version (version_num) VALUES ('hand_written')")
    workspace = Workspace(tiny.settings)
    with workspace.connect() as connection:
        with pytest.raises(GhostRevisionError, match="delete its row from the alembic_version"):
            workspace.applied_rows(connection)
        assert set(workspace.applied_rows(connection, ghosts_ok=True)) == {crm, second}
    assert workspace.ghosts == ["hand_written"]


def test_only_unknown_rows_and_no_records_are_another_history(tiny: TinyProject) -> None:
    _three_migrations(tiny)
    tiny.execute(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        "INSERT INTO alembic_version (version_num) VALUES ('1975bd11f4a0')",
    )
    workspace = Workspace(tiny.settings)
    with (
        workspace.connect() as connection,
        pytest.raises(ForeignHistoryError, match="'1975bd11f4a0'"),
    ):
        workspace.applied_rows(connection)


def _squash(tiny: TinyProject, first: str, second: str) -> None:
    tiny.migration(
        "shop",
        "0001_squashed_0002_more",
        TABLE.format("item") + "\n" + TABLE.format("more"),
        extra=f"replaces = ({first!r}, {second!r})\n",
    )


def test_a_database_past_a_squashed_range_sees_the_squash(tiny: TinyProject) -> None:
    crm, first, second = _three_migrations(tiny)
    migrate(tiny.settings)
    _squash(tiny, first, second)
    workspace = Workspace(tiny.settings)
    assert [m.name for m in workspace.history.for_app("shop")] == ["0001_squashed_0002_more"]
    with workspace.connect() as connection:
        assert set(workspace.applied_rows(connection)) == {crm, SQUASH}
        assert _rows(tiny) == {crm, second}  # read only: the table still names the old one
        assert set(workspace.applied_rows(connection, restamp=True)) == {crm, SQUASH}
    assert _rows(tiny) == {crm, SQUASH}
    assert workspace.unsquashed == frozenset()


def test_a_database_inside_a_squashed_range_sees_the_replaced_migrations(
    tiny: TinyProject,
) -> None:
    crm, first, second = _three_migrations(tiny)
    migrate(tiny.settings, "crm")
    migrate(tiny.settings, "shop", "0001_initial")
    _squash(tiny, first, second)
    workspace = Workspace(tiny.settings)
    with workspace.connect() as connection:
        assert set(workspace.applied_rows(connection, restamp=True)) == {crm, first}
    assert workspace.unsquashed == frozenset({SQUASH})
    assert [m.name for m in workspace.history.for_app("shop")] == ["0001_initial", "0002_more"]
    assert _rows(tiny) == {crm, first}
    workspace.use_view(frozenset())  # back to the squashed view, read again
    assert [m.name for m in workspace.history.for_app("shop")] == ["0001_squashed_0002_more"]
