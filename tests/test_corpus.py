"""Real projects' schemas (tests/corpus: see its README for each one's source) migrated
exactly on every database: from nothing, checked against create_all(), unapplied to zero,
applied again, and changed the way the project would change them."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import REPO, Project
from fidelity import schema_differences
from schema_compare import describe

CORPUS = REPO / "tests" / "corpus"
LABELS = sorted(p.name for p in CORPUS.iterdir() if (p / "models.py").exists())
BOOKKEEPING = {"alembic_version", "manage_migrations"}
PROGRESS = "manage_migration_progress"  # MySQL/MariaDB's resumable migrations


def schema_change(label: str) -> tuple[str, str]:
    """The README's OLD and NEW code blocks for this app."""
    readme = (CORPUS / "README.md").read_text()
    section = readme.split(f"### `{label}`", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"\*\*(OLD|NEW)\*\*\s*```python\n(.*?)```", section, re.DOTALL)
    found = dict(blocks)
    return found["OLD"], found["NEW"]


def _only_app(project: Project, label: str) -> None:
    """The project holds this app alone, so that unapplying it leaves only bookkeeping."""
    for example in ("owners", "pets"):
        shutil.rmtree(project.file(f"apps/{example}"))
    shutil.copytree(
        CORPUS / label, project.file(f"apps/{label}"), ignore=shutil.ignore_patterns("__pycache__")
    )
    project.file(f"apps/{label}/migrations").mkdir(exist_ok=True)
    settings = project.file("settings.py")
    text = re.sub(
        r"INSTALLED_APPS = \[.*?\]",
        f'INSTALLED_APPS = ["apps.{label}"]',
        settings.read_text(),
        flags=re.DOTALL,
    )
    settings.write_text(text)


def _clean_check(project: Project) -> None:
    result = project.run("makemigrations", "--check")
    assert result.returncode == 0 and result.stdout == "No changes detected\n", str(result)


@pytest.mark.parametrize("label", LABELS)
def test_real_schema_round_trip(
    project: Project, label: str, request: pytest.FixtureRequest
) -> None:
    _only_app(project, label)
    out = project.run("makemigrations", check=True).stdout
    assert f"apps/{label}/migrations/0001_initial.py" in out
    project.run("migrate", check=True)
    _clean_check(project)
    assert schema_differences(project, request) == []

    project.run("migrate", label, "zero", check=True)
    assert project.tables() - {PROGRESS} == BOOKKEEPING
    engine = project.engine()
    try:
        assert describe(engine)["sequences"] == {}
    finally:
        engine.dispose()
    project.run("migrate", check=True)
    assert schema_differences(project, request) == []

    old, new = schema_change(label)
    models = project.file(f"apps/{label}/models.py")
    assert models.read_text().count(old) == 1
    models.write_text(models.read_text().replace(old, new))
    out = project.run("makemigrations", check=True).stdout
    assert f"apps/{label}/migrations/0002_" in out, out
    project.run("migrate", check=True)
    _clean_check(project)
    # An added column comes last, as ALTER TABLE ADD COLUMN puts it on every database.
    assert schema_differences(project, request, column_order=False) == []
