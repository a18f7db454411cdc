"""The test harness's shortcut is honest: a `migrate` copied from the template
(conftest.Templates) gives what a real `python manage.py migrate` gives, on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import TEMPLATES, TEMPLATES_ON, Project
from schema_compare import describe

HISTORY = "SELECT app, name, revision, parents, checksum, faked FROM manage_migrations ORDER BY id"


def _state(project: Project) -> dict[str, object]:
    engine = project.engine()
    try:
        schema = describe(engine, exclude=())
    finally:
        engine.dispose()
    return {
        "schema": schema,
        "versions": project.versions(),
        "history": project.execute(HISTORY),
        "files": {k: v for k, v in project.snapshot().items() if not k.startswith("<")},
    }


@pytest.mark.skipif(not TEMPLATES_ON, reason="MANAGE_TEST_TEMPLATES=0: no copies to check")
def test_a_copied_migrate_is_a_real_one(
    backend: str, make_project: Callable[[str], Project]
) -> None:
    first = make_project(backend)
    first.run("migrate", check=True)  # real, unless an earlier test kept a template already
    assert backend in TEMPLATES.saved
    real = make_project(backend)
    real_result = real.run("migrate", env={"MANAGE_TEST_REAL_RUN": "1"})  # never copied
    assert not real.from_template
    copied = make_project(backend)
    copied_result = copied.run("migrate")
    assert copied.from_template
    assert copied_result == real_result
    assert _state(copied) == _state(real)
    # Not untouched: run for real.
    edited = make_project(backend)
    edited.append("settings.py", "\n# edited\n")
    edited.run("migrate", check=True)
    assert not edited.from_template
    # A copy is a database of its own: the next commands work on it as on a real one.
    assert copied.run("migrate", "pets", "zero", check=True).stdout.endswith(
        "  Unapplying pets.0001_initial... OK\n"
    )
    assert copied.run("showmigrations", "pets", check=True).stdout == "pets\n [ ] 0001_initial\n"
    assert "pets_pet" in real.tables()
