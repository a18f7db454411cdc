"""Unit tests of the pure parts: splitting, naming, dependencies, parsing, masking."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.operations import ops

from project.autogen.describe import describe_operations, suggest_name
from project.autogen.per_app import migration_number, referenced_tables, revision_id, split_by_app
from project.backends.connections import mask_url, password_of
from project.cli.main import hoist_global_options
from project.db import app_label_of
from project.engine.migration_files import read_operations
from project.settings import load_settings


def _table(name: str, *columns: sa.Column[object]) -> sa.Table:
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), *columns)


def test_split_by_app_groups_by_owner_in_order() -> None:
    owners = {"pets_pet": "pets", "owners_owner": "owners"}
    operations = [
        ops.CreateTableOp.from_table(_table("owners_owner")),
        ops.ModifyTableOps(
            "pets_pet", [ops.AddColumnOp("pets_pet", sa.Column("weight", sa.Float))]
        ),
        ops.CreateIndexOp("ix_pets_pet_weight", "pets_pet", ["weight"]),
        ops.DropTableOp("legacy"),
    ]
    groups = split_by_app(operations, lambda table, op: owners.get(table or ""))
    assert list(groups) == ["owners", "pets", None]
    assert groups["pets"] == operations[1:3]
    assert groups[None] == [operations[3]]


def test_referenced_tables_follow_foreign_keys() -> None:
    pet = _table("pets_pet", sa.Column("owner_id", sa.ForeignKey("owners_owner.id")))
    add = ops.AddColumnOp("pets_visit", sa.Column("vet_id", sa.ForeignKey("vets_vet.id")))
    fk = ops.CreateForeignKeyOp("fk", "pets_toy", "shops_shop", ["shop_id"], ["id"])
    assert referenced_tables(
        [ops.CreateTableOp.from_table(pet), ops.ModifyTableOps("pets_visit", [add]), fk]
    ) == {
        "owners_owner",
        "vets_vet",
        "shops_shop",
    }


@pytest.mark.parametrize(
    ("operations", "name"),
    [
        ([ops.CreateTableOp("pets_visit", [])], "visit"),
        ([ops.DropTableOp("pets_visit")], "delete_visit"),
        ([ops.AddColumnOp("pets_pet", sa.Column("weight", sa.Float))], "pet_weight"),
        ([ops.DropColumnOp("pets_pet", "sex")], "remove_pet_sex"),
        ([ops.AlterColumnOp("pets_pet", "name", modify_nullable=False)], "alter_pet_name"),
        (
            [
                ops.CreateTableOp("pets_visit", []),
                ops.CreateIndexOp("ix", "pets_visit", ["pet_id"]),
            ],
            "visit",
        ),
        ([ops.CreateIndexOp("ix", "pets_pet", ["name"])], "pet_name_index"),
        (
            [ops.CreateTableOp(f"pets_model_number_{i}", []) for i in range(5)],
            "model_number_0_model_number_1_model_number_2_and_more",
        ),
        ([ops.ExecuteSQLOp("SELECT 1")], "auto"),
    ],
)
def test_suggest_name(operations: list[ops.MigrateOperation], name: str) -> None:
    assert suggest_name(describe_operations(operations, "pets")) == name


def test_describe_uses_django_glyphs() -> None:
    changes = describe_operations(
        [
            ops.CreateTableOp("pets_visit", []),
            ops.ModifyTableOps(
                "pets_pet",
                [
                    ops.AddColumnOp("pets_pet", sa.Column("weight", sa.Float)),
                    ops.AlterColumnOp(
                        "pets_pet", "name", modify_type=sa.String(80), modify_nullable=False
                    ),
                ],
            ),
            ops.DropTableOp("pets_old"),
        ]
    )
    assert [str(c) for c in changes] == [
        "+ Create table pets_visit",
        "~ Add column weight to pets_pet",
        "~ Alter column name of pets_pet (type, nullability)",
        "- Drop table pets_old",
    ]


def test_revision_ids_are_readable_unique_and_fit_the_version_column() -> None:
    assert revision_id("pets", "0002_visit", set()) == "pets_0002_visit"
    long = revision_id("pets", "0002_pet_weight_remove_pet_condition", set())
    assert long == "pets_0002_pet_weight_remove_pet" and len(long) <= 32
    assert (
        revision_id("pets", "0002_pet_weight_remove_pet_condition", {long})
        == "pets_0002_pet_weight_remove_pe_2"
    )


def test_migration_number_follows_the_latest() -> None:
    assert migration_number(None, 0) == 1
    assert migration_number("0007_visit", 3) == 8
    assert migration_number("handwritten", 3) == 4
    assert migration_number("0001_squashed_0007_visit", 1) == 8


def test_app_label_of_module() -> None:
    assert app_label_of("apps.pets.models") == "pets"
    assert app_label_of("apps.pets.models.visit") == "pets"
    assert app_label_of("shop") == "shop"


@pytest.mark.parametrize(
    ("url", "masked", "password"),
    [
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app", "s3cret"),
        ("postgres//app:s3cret@db/app", "postgres//app:***@db/app", "s3cret"),
        ("mysql://root@db/app", "mysql://root@db/app", None),
        ("sqlite:///db.sqlite3", "sqlite:///db.sqlite3", None),
    ],
)
def test_mask_url(url: str, masked: str, password: str | None) -> None:
    assert mask_url(url) == masked
    assert password_of(url) == password


@pytest.mark.parametrize(
    ("argv", "hoisted"),
    [
        (
            ["migrate", "pets", "--settings=x", "-v", "2"],
            ["--settings=x", "-v", "2", "migrate", "pets"],
        ),
        (
            ["migrate", "--settings", "x", "--traceback", "-v3"],
            ["--settings", "x", "--traceback", "-v3", "migrate"],
        ),
        (["--settings", "x", "migrate"], ["--settings", "x", "migrate"]),
        (["importpets", "--", "-v"], ["importpets", "--", "-v"]),
    ],
)
def test_hoist_global_options(argv: list[str], hoisted: list[str]) -> None:
    assert hoist_global_options(argv) == hoisted


def test_read_operations_from_source(tmp_path: Path) -> None:
    path = tmp_path / "0002_x.py"
    path.write_text(
        "def upgrade():\n"
        "    op.create_table('pets_visit', sa.Column('id', sa.Integer()))\n"
        "    with op.batch_alter_table('pets_pet', schema=None) as batch_op:\n"
        "        batch_op.add_column(sa.Column('weight', sa.Float(), nullable=True))\n"
        "        batch_op.create_index(batch_op.f('ix_pets_pet_weight'), ['weight'], unique=False)\n"
        "        batch_op.drop_column('sex')\n"
        "    op.rename_table('pets_old', 'pets_older')\n"
        "    op.execute('UPDATE pets_pet SET weight = 1')\n"
        "    op.bulk_insert(table, [])\n"
        "def downgrade():\n"
        "    op.drop_table('pets_visit')\n"
    )
    assert [str(c) for c in describe_operations(read_operations(path), "pets")] == [
        "+ Create table pets_visit",
        "~ Add column weight to pets_pet",
        "+ Create index ix_pets_pet_weight on pets_pet",
        "- Drop column sex from pets_pet",
        "~ Rename table pets_old to pets_older",
        "s Run SQL",
        "? op.bulk_insert",
    ]
    assert [str(c) for c in describe_operations(read_operations(path, "downgrade"))] == [
        "- Drop table pets_visit"
    ]


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mysettings.py").write_text(
        'INSTALLED_APPS = []\nDATABASE_URL = "sqlite:///from_module.db"\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_settings("mysettings", {}).database_url == "sqlite:///from_module.db"
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///from_dotenv.db\n")
    assert load_settings("mysettings", {}).database_url == "sqlite:///from_dotenv.db"
    assert (
        load_settings("mysettings", {"DATABASE_URL": "sqlite:///from_env.db"}).database_url
        == "sqlite:///from_env.db"
    )
    settings = load_settings(None, {"MANAGE_SETTINGS_MODULE": "mysettings"})
    assert settings.base_dir == tmp_path.resolve() and settings.protect_unowned_tables is True


def test_package_versions_agree_with_importlib_metadata() -> None:
    from importlib.metadata import version

    from project.engine.fingerprint import package_versions

    packages = ("SQLAlchemy", "alembic", "typer", "manage_project", "not-installed-anywhere")
    expected = [f"{p}={version(p)}" for p in packages[:-1]] + [f"{packages[-1]}=-"]
    assert package_versions(packages) == expected


def test_tables_belong_to_the_app_whose_module_defined_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model, a plain Table, a table a helper elsewhere builds for the app: the app's. A
    table the app's code makes at run time (after its import): nobody's."""
    from project.apps import AppConfig
    from project.engine.model_tables import load_models

    helpers = tmp_path / "owntables_helpers.py"
    helpers.write_text(
        "import sqlalchemy as sa\n\n"
        "def make(metadata, name):\n"
        "    return sa.Table(name, metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    package = tmp_path / "owntables_app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n"
        "from owntables_helpers import make\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n"
        "class Thing(Base):\n"
        "    __tablename__ = 'own_thing'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n\n"
        "plain = sa.Table('own_plain', Base.metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
        "helped = make(Base.metadata, 'own_helped')\n\n"
        "def at_run_time():\n"
        "    return make(sa.MetaData(), 'own_later')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    app = AppConfig("owntables_app", "owntables_app", package, package / "migrations")
    models = load_models([app])
    assert models.owners == {
        "own_thing": "owntables_app",
        "own_plain": "owntables_app",
        "own_helped": "owntables_app",
    }
    assert models.origins["own_thing"].model == "Thing"
    import owntables_app.models as module  # type: ignore[import-not-found]

    module.at_run_time()
    assert "own_later" not in load_models([app]).owners


def test_models_imported_before_the_framework_watched_are_still_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test module that imports the models before call_command; a command module's own
    Table on another MetaData is not a model; one name in two schemas is two tables."""
    from project.apps import AppConfig
    from project.engine import model_tables

    package = tmp_path / "earlyapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n"
        "class Thing(Base):\n"
        "    __tablename__ = 'early_thing'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n\n"
        "log = sa.Table('early_log', Base.metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
        "old_log = sa.Table('early_log', Base.metadata, sa.Column('id', sa.Integer, primary_key=True),"
        " schema='archive')\n"
    )
    (package / "commands.py").write_text(
        "import sqlalchemy as sa\n\n"
        "legacy = sa.Table('early_legacy', sa.MetaData(), sa.Column('id', sa.Integer))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import earlyapp.commands  # type: ignore[import-not-found]
    import earlyapp.models  # noqa: F401  # type: ignore[import-not-found]

    for key, (_, module, _, _) in list(model_tables._created.items()):
        if module.startswith("earlyapp"):  # as if imported before watch()
            del model_tables._created[key]
    app = AppConfig("earlyapp", "earlyapp", package, package / "migrations")
    models = model_tables.load_models([app])
    assert sorted(models.tables) == ["archive.early_log", "early_log", "early_thing"]
    assert models.origins["early_thing"].model == "Thing"
    assert models.origins["archive.early_log"].app == "earlyapp"


def test_recreating_a_generated_column_loses_nothing_unless_it_was_plain() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("a", sa.Integer))

    def recreate(old: sa.Column[int], new: sa.Column[int]) -> list[bool]:
        drop = ops.DropColumnOp.from_column_and_tablename(None, "t", old)
        add = ops.AddColumnOp.from_column_and_tablename(None, "t", new)
        return [c.destructive for c in describe_operations([drop, add])]

    computed = sa.Column("b", sa.Integer, sa.Computed("a * 2"))
    assert recreate(computed, sa.Column("b", sa.Integer, sa.Computed("a * 3"))) == [False, False]
    assert recreate(sa.Column("b", sa.Integer), computed) == [True, False]  # plain values go
    assert recreate(computed, sa.Column("b", sa.Integer)) == [True, False]
    assert table is not None
