"""What `migrate` built, compared with what `metadata.create_all()` builds for the same
models on a second, empty database of the same kind (tests/schema_compare.py)."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from conftest import Project
from schema_compare import describe, differences

# Run inside the project copy, on the other database: every MetaData of the installed apps.
CREATE_ALL = """
import json
import sqlalchemy as sa
from project.apps import get_app_configs
from project.backends.connections import create_engine
from project.engine.model_tables import load_models
from project.settings import load_settings

settings = load_settings("settings")
models = load_models(get_app_configs(settings))
engine = create_engine(settings)
schemas = {t.schema for t in models.tables.values()} - {None}
with engine.begin() as connection:  # create_all() expects its schemas to exist
    for schema in sorted(schemas):
        connection.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
for metadata in models.metadatas:
    metadata.create_all(engine)
engine.dispose()
print(json.dumps(sorted(models.tables)))
"""


def other_database(project: Project, request: pytest.FixtureRequest) -> tuple[str, str]:
    """(URL for the project, URL for the tests) of a new empty database of the same kind."""
    if project.backend == "sqlite":
        path = project.path / f"create_all_{uuid.uuid4().hex[:6]}.sqlite3"
        return f"sqlite:///{path}", f"sqlite:///{path}"
    server = request.getfixturevalue("database_servers").get(project.backend)
    name = f"test_{uuid.uuid4().hex[:12]}"
    driver_url = server.create_database(name)
    request.addfinalizer(lambda: server.drop_database(name))
    user_url = sa.engine.make_url(driver_url).set(
        drivername={"postgresql": "postgresql", "mariadb": "mysql"}[project.backend]
    )
    return user_url.render_as_string(hide_password=False), driver_url


def create_all(project: Project, request: pytest.FixtureRequest) -> str:
    """`create_all()` of every installed app's models on another database; its URL."""
    user_url, driver_url = other_database(project, request)
    result = project.python_with(CREATE_ALL, DATABASE_URL=user_url)
    assert result.returncode == 0, str(result)
    assert json.loads(result.stdout.strip().splitlines()[-1]), "no tables were created"
    return driver_url


def schema_differences(
    project: Project,
    request: pytest.FixtureRequest,
    schemas: tuple[str | None, ...] = (None,),
    column_order: bool = True,
) -> list[str]:
    """What the project's database lacks or has more than create_all() makes; [] when equal.
    `column_order=False` once columns were added to existing tables (they come last)."""
    expected_url = create_all(project, request)
    expected_engine = sa.create_engine(expected_url, poolclass=sa.pool.NullPool)
    actual_engine = project.engine()
    try:
        expected = describe(expected_engine, schemas=schemas)
        actual = describe(actual_engine, schemas=schemas)
    finally:
        expected_engine.dispose()
        actual_engine.dispose()
    assert expected["tables"], "create_all() made no tables"
    return differences(expected, actual, column_order=column_order)
