"""startapp makes a new app that the workflow picks up at once; check reports what would
make makemigrations or migrate go wrong, and migrate refuses on the same graph problems."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Project, assert_error, write_migration

SHOP_MODEL = (
    "\n\nclass Product(Model):\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    title: Mapped[str] = mapped_column(String(100))\n"
)
TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_project(request: pytest.FixtureRequest, make_project: Callable[[str], Project]) -> Project:
    """SQLite and PostgreSQL: scaffolding and graph checks do not depend on how a
    database runs DDL, so MariaDB adds nothing here."""
    return make_project(str(request.param))


def test_startapp_makes_an_app_that_migrates(any_project: Project) -> None:
    project = any_project
    out = project.run("startapp", "shop", check=True).stdout
    assert out.splitlines()[:2] == [
        "Created app 'shop' in apps/shop.",
        'Added "apps.shop" to INSTALLED_APPS in settings.py.',
    ]
    for name in ("__init__.py", "models.py", "migrations/.gitkeep", "commands/__init__.py"):
        assert project.file(f"apps/shop/{name}").is_file(), name
    assert '"apps.shop"' in project.file("settings.py").read_text()
    # Nothing to migrate until it has a model; then it is an app like the others.
    assert project.run("makemigrations", "--check").returncode == 0
    project.file("apps/shop/models.py").write_text(
        "from sqlalchemy import String\nfrom sqlalchemy.orm import Mapped, mapped_column\n\n"
        "from project.db import Model" + SHOP_MODEL
    )
    out = project.run("makemigrations", "shop", check=True).stdout
    assert "apps/shop/migrations/0001_initial.py" in out
    assert "+ Create table shop_product" in out
    project.run("migrate", check=True)
    assert "shop_product" in project.tables()
    assert "shop\n [X] 0001_initial" in project.run("showmigrations", check=True).stdout


def test_startapp_refuses_bad_names_and_writes_nothing(any_project: Project) -> None:
    project = any_project
    before = project.snapshot()
    for name, fragment in (
        ("owners", "An installed app is labelled 'owners' already"),
        ("Shop-1", "'Shop-1' is not a valid app name: use a lower-case ASCII Python identifier"),
        ("café", "'café' is not a valid app name: use a lower-case ASCII Python identifier"),
        ("import", "'import' is not a valid app name"),
        ("json", "'json' is the name of a Python module; choose another name"),
    ):
        assert_error(project.run("startapp", name), fragment)
    assert project.snapshot() == before
    assert not project.file("apps/Shop-1").exists()


def test_startapp_says_what_to_add_when_settings_are_not_a_plain_list(
    any_project: Project,
) -> None:
    project = any_project
    settings = project.file("settings.py")
    settings.write_text(settings.read_text() + "\nINSTALLED_APPS = INSTALLED_APPS + []\n")
    before = settings.read_text()
    out = project.run("startapp", "shop", check=True).stdout
    assert 'Add "apps.shop" to INSTALLED_APPS in your settings' in out, out
    assert settings.read_text() == before


def test_check_passes_on_a_sound_project(any_project: Project) -> None:
    out = any_project.run("check", check=True).stdout
    assert out == "System check identified no issues (2 apps, 3 migrations).\n"


def test_check_reports_model_changes_without_a_migration(any_project: Project) -> None:
    project = any_project
    project.append("apps/pets/models.py", TOY)
    before = project.snapshot()
    result = project.run("check")
    assert result.returncode == 1, result
    assert result.stdout == (
        "System check identified some issues:\n"
        "  - The models of app 'pets' have changes that no migration makes "
        "(+ Create table pets_toy): run 'python manage.py makemigrations pets'.\n"
        "System check identified 1 issue.\n"
    )
    assert project.snapshot() == before  # a check writes no migration and no cache it reads back


def test_check_and_migrate_report_a_missing_cross_app_dependency(any_project: Project) -> None:
    project = any_project
    write_migration(
        project,
        "owners",
        "0003_address",
        "owners_0002_lowercase_emails",
        'op.create_table("owners_address", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("owners_address")',
    )
    write_migration(
        project,
        "pets",
        "0002_kennel",
        "pets_0001_initial",
        'op.create_table("pets_kennel", sa.Column("id", sa.Integer, primary_key=True),\n'
        '    sa.Column("address_id", sa.Integer, sa.ForeignKey("owners_address.id")))',
        'op.drop_table("pets_kennel")',
    )
    message = (
        "pets.0002_kennel has a foreign key to a table that owners.0003_address creates, but "
        'does not depend on it: add depends_on = "owners_0003_address" to 0002_kennel.py.'
    )
    result = project.run("check")
    assert result.returncode == 1, result
    assert f"  - {message}\n" in result.stdout, result
    before = project.snapshot()
    assert_error(project.run("migrate"), message)
    assert project.snapshot() == before and not project.tables()
    # Fixed as the message says, both pass.
    kennel = project.file("apps/pets/migrations/0002_kennel.py")
    kennel.write_text(
        kennel.read_text().replace("depends_on = None", 'depends_on = "owners_0003_address"')
    )
    project.run("migrate", check=True)
    assert {"owners_address", "pets_kennel"} <= project.tables()


def test_check_reports_a_conflict(any_project: Project) -> None:
    project = any_project
    for name in ("0002_left", "0002_right"):
        write_migration(project, "pets", name, "pets_0001_initial", "pass")
    result = project.run("check")
    assert result.returncode == 1, result
    assert "Conflicting migrations detected; multiple leaf nodes in the migration graph" in (
        result.stdout
    )
    assert "(0002_left, 0002_right in pets)" in result.stdout, result
    assert "makemigrations --merge" in result.stdout


def test_check_fails_cleanly_on_broken_settings_and_models(any_project: Project) -> None:
    project = any_project
    result = project.run("check", env={"DATABASE_URL": "oracle+nodriver://x/y"})
    assert result.returncode == 1, result
    assert "DATABASE_URL names an unknown database or driver 'oracle+nodriver'" in result.stdout
    project.append("apps/pets/models.py", "\nbroken = (\n")
    assert_error(
        project.run("check"), "Cannot import the models of app 'pets' (apps/pets/models.py, line"
    )
    settings = project.file("settings.py")
    settings.write_text(settings.read_text() + "\nINSTALLED_APPS = 5\n")
    assert_error(project.run("check"), "INSTALLED_APPS in 'settings' must be a list")
