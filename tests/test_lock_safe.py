"""Lock-safe migrations on PostgreSQL (project.autogen.lock_safe, project.engine.online):
what makemigrations writes for existing tables, that it applies, reverses and leaves no
difference, that an interrupted concurrent build is rebuilt, and that the same changes
stay ordinary on SQLite and MariaDB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.operations import ops
from conftest import Project, with_settings

from project.autogen.lock_safe import split_lock_safe
from project.engine import online

# One model change of each kind on the example project's existing tables: an index, a
# foreign key column with its index, a unique constraint, NOT NULL on a column.
MODEL_CHANGES = (
    (
        "    name: Mapped[str | None] = mapped_column(String(50))",
        "    name: Mapped[str | None] = mapped_column(String(50), index=True)",
    ),
    (
        "    species: Mapped[str | None] = mapped_column(String(50))",
        "    species: Mapped[str] = mapped_column(String(50))",
    ),
    (
        "    sex: Mapped[str | None] = mapped_column(String(10))",
        (
            "    sex: Mapped[str | None] = mapped_column(String(10), unique=True)\n"
            '    vet_id: Mapped[int | None] = mapped_column(ForeignKey("owners_owner.id"), index=True)'
        ),
    ),
)
IGNORE_NULLS = "2\n"  # the questioner: existing NULLs of species are handled by hand


def change_models(project: Project) -> None:
    path = project.file("apps/pets/models.py")
    text = path.read_text()
    for old, new in MODEL_CHANGES:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)


def add_rows(project: Project) -> None:
    project.insert("owners_owner", id=1, name="Ann", email="ann@example.com")
    for number in range(1, 4):
        project.insert("pets_pet", id=number, species="cat", name=f"p{number}", owner_id=1)


# --- the split, in process ----------------------------------------------------------------


def test_changes_to_an_existing_table_move_to_lock_safe_steps() -> None:
    index = ops.CreateIndexOp("ix_t_a", "t", ["a"])
    fk = ops.CreateForeignKeyOp("fk_t_o", "t", "o", ["o_id"], ["id"])
    unique = ops.CreateUniqueConstraintOp("uq_t_b", "t", ["b"])
    not_null = ops.AlterColumnOp("t", "c", modify_nullable=False, existing_nullable=True)
    added = ops.AddColumnOp("t", sa.Column("o_id", sa.Integer()))
    first, second = split_lock_safe([ops.ModifyTableOps("t", [added, index, fk, unique, not_null])])

    [now], [later] = first, second
    assert [type(op).__name__ for op in now.ops] == [
        "AddColumnOp",
        "CreateForeignKeyOp",
        "AddNotNullCheckOp",
    ]
    assert now.ops[1].kw["postgresql_not_valid"] is True
    assert "postgresql_not_valid" not in fk.kw  # the input is not changed
    assert [type(op).__name__ for op in later.ops] == [
        "CreateIndexConcurrentlyOp",
        "ValidateConstraintOp",
        "CreateUniqueConstraintConcurrentlyOp",
        "ValidateConstraintOp",
        "AlterColumnOp",
        "DropNotNullCheckOp",
    ]
    assert later.ops[1].constraint_name == "fk_t_o"
    assert later.ops[3].constraint_name == later.ops[5].constraint_name == "ck_t_c_not_null"
    assert later.ops[4].modify_nullable is False


def test_a_new_table_and_a_dropped_column_need_no_lock_safe_steps() -> None:
    created = ops.CreateTableOp("n", [sa.Column("id", sa.Integer(), primary_key=True)])
    new_index = ops.ModifyTableOps("n", [ops.CreateIndexOp("ix_n_id", "n", ["id"])])
    gone = ops.DropIndexOp("ix_t_a", "t", _reverse=ops.CreateIndexOp("ix_t_a", "t", ["a"]))
    dropped = ops.ModifyTableOps("t", [gone, ops.DropColumnOp("t", "a")])
    first, second = split_lock_safe([created, new_index, dropped])
    assert second == []
    assert first[0] is created
    assert [type(op).__name__ for op in first[1].ops] == ["CreateIndexOp"]
    assert [type(op).__name__ for op in first[2].ops] == ["DropIndexOp", "DropColumnOp"]


def test_a_unique_constraint_a_new_foreign_key_needs_stays_before_it() -> None:
    """PostgreSQL wants the referenced columns unique when the key is added, NOT VALID too."""
    unique = ops.CreateUniqueConstraintOp("uq_o_email", "o", ["email"])
    fk = ops.CreateForeignKeyOp("fk_t_o", "t", "o", ["email"], ["email"])
    first, second = split_lock_safe(
        [ops.ModifyTableOps("o", [unique]), ops.ModifyTableOps("t", [fk])]
    )
    assert [type(op).__name__ for part in first for op in part.ops] == [
        "CreateUniqueConstraintOp",
        "CreateForeignKeyOp",
    ]
    assert [type(op).__name__ for part in second for op in part.ops] == ["ValidateConstraintOp"]


def test_a_table_the_migration_drops_keeps_its_drops_in_place() -> None:
    gone = ops.DropIndexOp("ix_t_a", "t", _reverse=ops.CreateIndexOp("ix_t_a", "t", ["a"]))
    first, second = split_lock_safe([ops.ModifyTableOps("t", [gone]), ops.DropTableOp("t")])
    assert second == []
    assert type(first[0].ops[0]) is ops.DropIndexOp


def test_a_dropped_index_is_dropped_concurrently_and_rebuilt_so_on_downgrade() -> None:
    gone = ops.DropIndexOp("ix_t_a", "t", _reverse=ops.CreateIndexOp("ix_t_a", "t", ["a"]))
    first, [later] = split_lock_safe([ops.ModifyTableOps("t", [gone])])
    assert first == []
    [drop] = later.ops
    assert isinstance(drop, online.DropIndexConcurrentlyOp)
    back = drop.reverse()
    assert isinstance(back, online.CreateIndexConcurrentlyOp)
    assert [getattr(c, "name", c) for c in back.columns] == ["a"]


def test_not_null_check_names_fit_postgresql() -> None:
    assert online.not_null_check_name("t", "c") == "ck_t_c_not_null"
    long = online.not_null_check_name("t" * 40, "c" * 40)
    assert len(long) == 63 and long.endswith("_not_null")


# --- through the CLI ----------------------------------------------------------------------


def test_makemigrations_writes_lock_safe_steps_that_apply_and_reverse(
    make_project: object,
) -> None:
    project = make_project("postgresql")  # type: ignore[operator]
    project.run("migrate", check=True)
    add_rows(project)
    change_models(project)
    made = project.run("makemigrations", "pets", answers=IGNORE_NULLS, check=True)
    assert made.stdout.count("Migrations for 'pets':") == 1
    assert len(project.migrations("pets")) == 3
    ordinary, steps = (
        project.file(f"apps/pets/migrations/{n}") for n in project.migrations("pets")[1:]
    )
    assert steps.name.endswith("_concurrently.py")
    ordinary_text, steps_text = ordinary.read_text(), steps.read_text()
    assert "postgresql_not_valid=True" in ordinary_text
    assert (
        'op.add_not_null_check("ck_pets_pet_species_not_null", "pets_pet", "species")'
        in ordinary_text
    )
    assert "create_index" not in ordinary_text and "atomic = False" not in ordinary_text
    for call in (
        'op.create_index_concurrently(\n        op.f("ix_pets_pet_name")',
        'op.create_unique_constraint_concurrently("uq_pets_pet_sex", "pets_pet", ["sex"])',
        'op.validate_constraint("fk_pets_pet_vet_id_owners_owner", "pets_pet")',
        'op.validate_constraint("ck_pets_pet_species_not_null", "pets_pet")',
        'op.drop_not_null_check("ck_pets_pet_species_not_null", "pets_pet")',
        "atomic = False",
    ):
        assert call in steps_text, call
    assert "Lock-safe steps (PostgreSQL)" in steps_text

    sql = project.run("sqlmigrate", "pets", steps.stem[:4], check=True).stdout
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_pets_pet_name ON pets_pet (name)" in sql
    assert "ADD CONSTRAINT uq_pets_pet_sex UNIQUE USING INDEX uq_pets_pet_sex" in sql
    assert "VALIDATE CONSTRAINT fk_pets_pet_vet_id_owners_owner" in sql

    plan = project.run("migrate", "--plan", check=True).stdout  # the locks of every step
    assert "lock: SHARE UPDATE EXCLUSIVE on pets_pet: blocks neither reads nor writes" in plan
    assert "lock: " in plan and "! lock:" not in plan, plan

    project.run("migrate", check=True)
    assert (
        project.run("makemigrations", "--check", check=True).stdout.strip() == "No changes detected"
    )
    assert project.execute(
        "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'pets_pet'::regclass "
        "AND conname IN ('fk_pets_pet_vet_id_owners_owner', 'uq_pets_pet_sex', "
        "'ck_pets_pet_species_not_null') ORDER BY conname"
    ) == [("fk_pets_pet_vet_id_owners_owner", True), ("uq_pets_pet_sex", True)]
    assert project.execute(
        "SELECT is_nullable FROM information_schema.columns "
        "WHERE table_name = 'pets_pet' AND column_name = 'species'"
    ) == [("NO",)]
    project.run("migrate", "pets", "0001", check=True)
    assert "vet_id" not in str(
        project.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'pets_pet'"
        )
    )
    project.run("migrate", check=True)
    assert project.run("check", check=True).returncode == 0


def test_an_interrupted_concurrent_build_is_rebuilt_on_the_next_run(make_project: object) -> None:
    """A unique index built CONCURRENTLY over duplicates fails and stays INVALID, after the
    NOT NULL steps before it have committed; once the duplicates are gone, migrate runs the
    migration again: the steps done are no-ops, the invalid index is dropped and rebuilt.
    Its downgrade, too, can run again after one that stopped partway."""
    project = make_project("postgresql")  # type: ignore[operator]
    project.run("migrate", check=True)
    project.insert("owners_owner", id=1, name="Ann", email="ann@example.com")
    for number in (1, 2):
        project.insert("pets_pet", id=number, species="cat", sex="f", owner_id=1)
    path = project.file("apps/pets/models.py")
    source = path.read_text()
    for old, new in (
        MODEL_CHANGES[1],
        (
            MODEL_CHANGES[2][0],
            MODEL_CHANGES[2][0].replace("String(10))", "String(10), unique=True)"),
        ),
    ):
        source = source.replace(old, new)
    path.write_text(source)
    project.run("makemigrations", "pets", answers=IGNORE_NULLS, check=True)
    steps = project.file(f"apps/pets/migrations/{project.migrations('pets')[-1]}").read_text()
    assert steps.index("op.drop_not_null_check(") < steps.index(
        "create_unique_constraint_concurrently"
    )

    failed = project.run("migrate")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "uq_pets_pet_sex" in failed.stderr
    assert "those before this one stayed applied" in failed.stderr
    assert "run migrate again once the cause is fixed" in failed.stderr
    invalid = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('uq_pets_pet_sex')"
    assert project.execute(invalid) == [(False,)]
    nullable = (
        "SELECT is_nullable FROM information_schema.columns "
        "WHERE table_name = 'pets_pet' AND column_name = 'species'"
    )
    assert project.execute(nullable) == [("NO",)]  # the NOT NULL steps had committed
    versions = project.versions()  # the ordinary migration applied, the steps' not
    assert any(v.startswith("pets_0002") for v in versions), versions
    assert not any(v.startswith("pets_0003") for v in versions), versions

    project.execute("UPDATE pets_pet SET sex = 'm' WHERE id = 2")
    project.run("migrate", check=True)
    assert project.execute(invalid) == [(True,)]
    assert project.execute(
        "SELECT count(*) FROM pg_constraint WHERE conname = 'uq_pets_pet_sex'"
    ) == [(1,)]
    assert (
        project.run("makemigrations", "--check", check=True).stdout.strip() == "No changes detected"
    )
    # A downgrade that stopped after dropping the constraint runs again to its end.
    project.execute("ALTER TABLE pets_pet DROP CONSTRAINT uq_pets_pet_sex")
    project.run("migrate", "pets", "0001", check=True)
    assert project.execute(nullable) == [("YES",)]


def test_the_setting_turns_lock_safe_steps_off(make_project: object) -> None:
    project = make_project("postgresql")  # type: ignore[operator]
    with_settings(project, LOCK_SAFE_MIGRATIONS=False)
    change_models(project)
    project.run("migrate", check=True)
    project.run("makemigrations", "pets", answers=IGNORE_NULLS, check=True)
    [only] = project.migrations("pets")[1:]
    text = project.file(f"apps/pets/migrations/{only}").read_text()
    assert "concurrently" not in text and "not_valid" not in text and "atomic" not in text
    assert "op.create_index(" in text


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_the_same_changes_stay_ordinary_elsewhere(make_project: object, backend: str) -> None:
    """On SQLite and MariaDB the change is one ordinary migration that applies and reverses;
    the PostgreSQL-made pair runs there too (its steps do the ordinary thing)."""
    project = make_project(backend)  # type: ignore[operator]
    project.run("migrate", check=True)
    change_models(project)
    project.run("makemigrations", "pets", answers=IGNORE_NULLS, check=True)
    [only] = project.migrations("pets")[1:]
    text = project.file(f"apps/pets/migrations/{only}").read_text()
    assert "concurrently" not in text and "not_valid" not in text
    project.run("migrate", check=True)
    project.run("migrate", "pets", "0001", check=True)
    if backend == "sqlite":  # a PostgreSQL-made history has no batch mode for SQLite
        return
    project.file(f"apps/pets/migrations/{only}").unlink()

    made_on_postgresql = make_project("postgresql")  # type: ignore[operator]
    change_models(made_on_postgresql)
    made_on_postgresql.run("migrate", check=True)
    made_on_postgresql.run("makemigrations", "pets", answers=IGNORE_NULLS, check=True)
    for name in made_on_postgresql.migrations("pets")[1:]:
        source = made_on_postgresql.file(f"apps/pets/migrations/{name}")
        project.file(f"apps/pets/migrations/{name}").write_text(source.read_text())
    project.run("migrate", check=True)
    assert (
        project.run("makemigrations", "--check", check=True).stdout.strip() == "No changes detected"
    )
    # Not reversed here: MariaDB refuses to drop the index that the foreign key has taken
    # over, since the foreign key goes with the first of the two migrations (see the README).


def test_mariadb_runs_ddl_online_and_says_when_it_could_not(make_project: object) -> None:
    """An index and a column are asked for online (INPLACE LOCK=NONE, INSTANT) and apply as
    usual; a column MariaDB cannot add instantly (with a UNIQUE index) is added INPLACE with
    LOCK=NONE; a stored generated column, which it can only add by copying the table, is run
    as written, and migrate says that it locked the table."""
    from conftest import write_migration

    project = make_project("mariadb")  # type: ignore[operator]
    online = (
        'op.create_index("ix_pets_pet_name", "pets_pet", ["name"])\n'
        'op.add_column("pets_pet", sa.Column("weight", sa.Integer(), nullable=True))\n'
        'op.execute("ALTER TABLE pets_pet ADD COLUMN n INTEGER UNIQUE")'
    )
    write_migration(project, "pets", "0002_online", "pets_0001_initial", online)
    done = project.run("migrate", check=True)
    assert "could not run" not in done.stdout + done.stderr
    columns = [row[0] for row in project.execute("SHOW COLUMNS FROM pets_pet")]
    assert "weight" in columns and "n" in columns
    locked = 'op.execute("ALTER TABLE pets_pet ADD COLUMN m INTEGER AS (LENGTH(name)) STORED")'
    write_migration(project, "pets", "0003_locked", "pets_0002_online", locked)
    result = project.run("migrate", check=True)
    assert (
        "  Applying pets.0003_locked... OK\n"
        "  pets.0003_locked: the server could not run `ALTER TABLE pets_pet ADD COLUMN m INTEGER "
        "AS (LENGTH(name)) STORED` online (ALGORITHM=INPLACE is not supported for this "
        "operation. Try ALGORITHM=COPY); it ran as written, under a lock that kept writes to "
        "the table waiting.\n"
    ) in result.stdout
    assert "m" in [row[0] for row in project.execute("SHOW COLUMNS FROM pets_pet")]
