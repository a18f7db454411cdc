"""One portable history per app by default; per-dialect histories as an option."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest
from conftest import BACKENDS, Project, install_test_app, with_settings
from schema_compare import BOOKKEEPING

APPS = ("owners", "pets", "alltypes")
FOLDERS = {"sqlite": "sqlite", "postgresql": "postgresql", "mariadb": "mysql"}


@pytest.mark.parametrize("source", BACKENDS)
def test_history_made_on_one_database_applies_on_the_others(
    source: str, make_project: Callable[[str], Project]
) -> None:
    author = make_project(source)
    install_test_app(author, "alltypes")
    for app in ("owners", "pets"):
        for path in author.file(f"apps/{app}/migrations").glob("0*.py"):
            path.unlink()
    author.run("makemigrations", check=True)
    for target in (b for b in BACKENDS if b != source):
        deploy = make_project(target)
        install_test_app(deploy, "alltypes")
        for app in APPS:
            shutil.rmtree(deploy.file(f"apps/{app}/migrations"), ignore_errors=True)
            shutil.copytree(
                author.file(f"apps/{app}/migrations"), deploy.file(f"apps/{app}/migrations")
            )
        deploy.run("migrate", check=True)
        assert {
            "owners_owner",
            "pets_pet",
            "alltypes_sample",
            "alltypes_samplechild",
        } <= deploy.tables()
        check = deploy.run("makemigrations", "--check")
        assert check.returncode == 0, f"made on {source}, applied on {target}:\n{check}"
        deploy.run("migrate", "owners", "zero", check=True)
        deploy.run("migrate", "alltypes", "zero", check=True)
        assert deploy.tables() <= set(BOOKKEEPING)


def test_per_dialect_histories(project: Project) -> None:
    with_settings(project, MIGRATIONS_PER_DIALECT=True)
    folder = FOLDERS[project.backend]
    out = project.run("makemigrations", check=True).stdout
    assert f"apps/owners/migrations/{folder}/0001_initial.py" in out
    assert f"apps/pets/migrations/{folder}/0001_initial.py" in out
    project.run("migrate", check=True)
    assert (
        project.run("showmigrations", check=True).stdout
        == "owners\n [X] 0001_initial\npets\n [X] 0001_initial\n"
    )
    assert project.run("makemigrations", "--check").returncode == 0
    assert sorted(p.name for p in project.file("apps/pets/migrations").iterdir() if p.is_dir()) == [
        folder
    ]
