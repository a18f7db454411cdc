"""Models the framework cannot migrate as written: one clear line naming what and where,
exit 1, nothing written, in makemigrations and in check alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Project, assert_error

SHOP = """
from sqlalchemy import ForeignKey, Index, Integer, String, Table, Column
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from project.db import Model


class Base(DeclarativeBase):
    pass
"""


def _add_app(project: Project, models: str, name: str = "shop") -> None:
    folder = project.file(f"apps/{name}")
    (folder / "migrations").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "models.py").write_text(SHOP + models)
    settings = project.file("settings.py")
    settings.write_text(
        settings.read_text().replace('"apps.pets",', f'"apps.pets",\n    "apps.{name}",')
    )


def _refused(project: Project, *fragments: str) -> None:
    """makemigrations and check both refuse, saying it, and change nothing."""
    before = project.snapshot()
    for command in (("makemigrations",), ("check",)):
        assert_error(project.run(*command), *fragments, code=1)
    assert project.snapshot() == before


def test_the_same_table_in_two_apps_on_one_metadata(sqlite_project: Project) -> None:
    _add_app(
        sqlite_project,
        "class Impostor(Model):\n"
        '    __tablename__ = "pets_pet"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    _refused(
        sqlite_project,
        "Table 'pets_pet' is defined twice",
        "model Pet in apps.pets.models (app 'pets')",
        "model Impostor in app 'shop' (apps/shop/models.py, line",
        "another __tablename__",
    )


def test_the_same_table_in_two_apps_on_two_bases(sqlite_project: Project) -> None:
    _add_app(
        sqlite_project,
        "class Pet(Base):\n"
        '    __tablename__ = "pets_pet"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    _refused(
        sqlite_project,
        "Table 'pets_pet' is defined twice: by model Pet in apps.pets.models (app 'pets') "
        "and by model Pet in apps.shop.models (app 'shop')",
    )


def test_a_foreign_key_to_a_table_no_model_defines(sqlite_project: Project) -> None:
    _add_app(
        sqlite_project,
        "class Order(Base):\n"
        '    __tablename__ = "shop_order"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        '    customer_id: Mapped[int] = mapped_column(ForeignKey("shop_customer.id"))\n',
    )
    _refused(
        sqlite_project,
        "The foreign key of model Order in apps.shop.models (app 'shop'), "
        "column shop_order.customer_id, points at table 'shop_customer'",
    )


def test_an_index_without_columns(sqlite_project: Project) -> None:
    """As mlflow's trace_tags model has it (tests/corpus/mlflow, before adaptation)."""
    _add_app(
        sqlite_project,
        "class Tag(Base):\n"
        '    __tablename__ = "shop_tag"\n'
        '    __table_args__ = (Index("index_shop_tag_request_id"),)\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    _refused(sqlite_project, "Index 'index_shop_tag_request_id' of model Tag", "has no columns")


def test_a_sequence_no_column_uses(sqlite_project: Project) -> None:
    _add_app(
        sqlite_project,
        'from sqlalchemy import Sequence\n\nSequence("shop_numbers", metadata=Base.metadata)\n\n\n'
        "class Order(Base):\n"
        '    __tablename__ = "shop_order"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    _refused(sqlite_project, "Sequence 'shop_numbers' is on the MetaData", "no column uses it")


def test_a_table_defined_outside_every_app(sqlite_project: Project) -> None:
    """On an app's MetaData, but made by code no installed app holds (here: the settings)."""
    sqlite_project.append(
        "settings.py",
        "\nfrom sqlalchemy import Column, Integer, Table\nfrom project.db import metadata\n"
        'Table("stray", metadata, Column("id", Integer, primary_key=True))\n',
    )
    _refused(
        sqlite_project, "Table(s) stray are on the same MetaData", "outside every installed app"
    )


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_what_the_database_cannot_have(
    make_project: Callable[[str], Project], backend: str
) -> None:
    project = make_project(backend)
    _add_app(
        project,
        "class Archived(Base):\n"
        '    __tablename__ = "shop_archived"\n'
        '    __table_args__ = {"schema": "archive"}\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        if backend == "sqlite"
        else "class Order(Base):\n"
        '    __tablename__ = "shop_order"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        '    parent_id = mapped_column(ForeignKey("shop_order.id", deferrable=True))\n',
    )
    before = project.snapshot()
    if backend == "sqlite":
        expected = "Table shop_archived of model Archived in apps.shop.models (app 'shop') is in schema 'archive': schemas are supported on PostgreSQL only"
    else:
        expected = "column shop_order.parent_id, is DEFERRABLE, which MySQL/MariaDB cannot create"
    assert_error(project.run("makemigrations"), expected, code=1)
    assert project.snapshot() == before
