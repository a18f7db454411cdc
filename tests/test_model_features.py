"""Models as real projects write them (tests/apps/fidelity: their own declarative base and
MetaData, a second MetaData of plain Tables, custom types, identity columns, sequences, ...):
`migrate` builds exactly what `create_all()` builds, and `makemigrations --check` is clean."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Project, install_test_app
from fidelity import schema_differences


def test_migrate_builds_what_create_all_builds(
    project: Project, request: pytest.FixtureRequest
) -> None:
    install_test_app(project, "fidelity")
    project.run("makemigrations", "fidelity", check=True)
    project.run("migrate", check=True)
    result = project.run("makemigrations", "--check")
    assert result.returncode == 0, str(result)
    assert schema_differences(project, request) == []


def test_the_comparison_sees_a_change_no_migration_made(
    sqlite_project: Project, request: pytest.FixtureRequest
) -> None:
    """The check above is not vacuous: a model edited after migrating differs."""
    install_test_app(sqlite_project, "fidelity")
    sqlite_project.run("makemigrations", "fidelity", check=True)
    sqlite_project.run("migrate", check=True)
    models = sqlite_project.file("apps/fidelity/models.py")
    models.write_text(
        models.read_text().replace('Column("tag", String(30)', 'Column("tag", String(31)')
    )
    found = schema_differences(sqlite_project, request)
    assert found == ["table fid_event_tag, column tag: type VARCHAR(31) != VARCHAR(30)"], found


def test_postgresql_schemas_gin_arrays_and_deferrable_keys(
    make_project: Callable[[str], Project], request: pytest.FixtureRequest
) -> None:
    project = make_project("postgresql")
    install_test_app(project, "pgfeatures")
    out = project.run("makemigrations", "pgfeatures", check=True).stdout
    assert "    + Create schema archive\n" in out
    project.run("migrate", check=True)
    assert project.run("makemigrations", "--check").returncode == 0
    assert schema_differences(project, request, schemas=(None, "archive")) == []
    project.run("migrate", "pgfeatures", "zero", check=True)
    project.run("migrate", check=True)  # the schema stayed: CREATE SCHEMA IF NOT EXISTS
    assert schema_differences(project, request, schemas=(None, "archive")) == []
