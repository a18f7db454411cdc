"""The lint that knows lock levels, through the CLI: `makemigrations --lint`, `check` and
`migrate --plan` on PostgreSQL (where it fails on blocking operations) and SQLite (n/a)."""

from __future__ import annotations

import pytest
from conftest import Project, write_migration

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])

INDEXED = (
    "    name: Mapped[str | None] = mapped_column(String(50))\n",
    "    name: Mapped[str | None] = mapped_column(String(50), index=True)\n",
)
PLAIN_INDEX = 'op.create_index(op.f("ix_pets_pet_name"), "pets_pet", ["name"], unique=False)'
CONCURRENT_INDEX = (
    'op.create_index_concurrently(op.f("ix_pets_pet_name"), "pets_pet", ["name"], unique=False)'
)
DROP_INDEX = 'op.drop_index(op.f("ix_pets_pet_name"), table_name="pets_pet")'
SHARE_LOCK = (
    "SHARE on pets_pet: blocks writes while it builds the index "
    "(lock-safe: op.create_index_concurrently)"
)


def _edit(project: Project, old: str, new: str) -> None:
    path = project.file("apps/pets/models.py")
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new))


def _index_migration(project: Project, upgrade: str) -> None:
    _edit(project, *INDEXED)
    write_migration(project, "pets", "0002_name_index", "pets_0001_initial", upgrade, DROP_INDEX)


def test_a_plain_index_on_an_existing_table_fails_the_lint_on_postgresql(
    project: Project,
) -> None:
    _index_migration(project, PLAIN_INDEX)
    lint = project.run("makemigrations", "--check", "--lint")
    checked = project.run("check")
    plan = project.run("migrate", "--plan", check=True).stdout
    if project.backend == "sqlite":
        assert lint.returncode == 0, str(lint)
        assert "Locks" not in lint.stdout  # nothing new, nothing failing
        assert checked.returncode == 0, str(checked)
        assert (
            "pets.0002_name_index\n"
            "    + Create index ix_pets_pet_name on pets_pet\n"
            "        lock: n/a (SQLite is embedded: no server traffic to keep waiting)\n"
        ) in plan
        return
    assert lint.returncode == 1, str(lint)
    assert lint.stdout.endswith(
        "Locks taken on postgresql:\n"
        "  pets.0002_name_index\n"
        "    + Create index ix_pets_pet_name on pets_pet\n"
        f"      ! lock: {SHARE_LOCK}\n"
        "1 operation (marked !) blocks reads or writes of an existing table for longer than "
        "a moment, in pets.0002_name_index: use the lock-safe form, or add "
        "allow_blocking = True to the file once accepted.\n"
    )
    assert checked.returncode == 1, str(checked)
    assert (
        "  - pets.0002_name_index: + Create index ix_pets_pet_name on pets_pet takes "
        f"{SHARE_LOCK}. Use the lock-safe form, or add allow_blocking = True to the file "
        "once accepted.\n"
    ) in checked.stdout
    assert (
        "pets.0002_name_index\n"
        "    + Create index ix_pets_pet_name on pets_pet\n"
        f"      ! lock: {SHARE_LOCK}\n"
    ) in plan
    # Applied, it has done its blocking: check no longer counts it; --lint reads every file.
    project.run("migrate", check=True)
    assert project.run("check").returncode == 0
    assert project.run("makemigrations", "--check", "--lint").returncode == 1
    # Accepted: the lint passes, and says nothing of it.
    project.append("apps/pets/migrations/0002_name_index.py", "\nallow_blocking = True\n")
    accepted = project.run("makemigrations", "--check", "--lint")
    assert accepted.returncode == 0, str(accepted)
    assert "Locks" not in accepted.stdout


def test_a_concurrent_index_passes_and_applies(project: Project) -> None:
    _index_migration(project, CONCURRENT_INDEX)
    lint = project.run("makemigrations", "--check", "--lint")
    assert lint.returncode == 0, str(lint)
    checked = project.run("check")
    assert checked.returncode == 0, str(checked)
    plan = project.run("migrate", "--plan", check=True).stdout
    if project.backend == "postgresql":
        assert (
            "    + Create index ix_pets_pet_name on pets_pet (concurrently)\n"
            "        lock: SHARE UPDATE EXCLUSIVE on pets_pet: blocks neither reads nor writes "
            "while it builds the index\n"
        ) in plan
    project.run("migrate", check=True)
    assert project.run("makemigrations", "--check").returncode == 0


def test_new_migrations_show_their_locks_and_dropping_a_column_warns(project: Project) -> None:
    project.run("migrate", check=True)
    _edit(project, "    condition: Mapped[str | None] = mapped_column(String(50))\n", "")
    result = project.run("makemigrations", "--check", "--lint")
    assert result.returncode == 1  # destructive, not reviewed
    assert (
        "Warning: pets.0002_remove_pet_condition (not written) drops column condition of "
        "pets_pet, which the release running now may still read or write. Expand/contract: "
        "first ship a release that no longer uses it (nor its model's attribute), then drop it."
    ) in result.stderr
    assert result.stdout.endswith(
        "Destructive changes not marked as reviewed (add allow_destructive = True to the file):\n"
        "  pets.0002_remove_pet_condition (not written)\n"
        "  ! - Drop column condition from pets_pet\n"
    )
    if project.backend == "sqlite":
        assert "Locks taken on sqlite: n/a (" in result.stdout
    else:
        assert (
            "Locks taken on postgresql:\n"
            "  pets.0002_remove_pet_condition (not written)\n"
            "    - Drop column condition from pets_pet\n"
            "        lock: ACCESS EXCLUSIVE on pets_pet, brief: blocks reads and writes for a "
            "moment\n"
        ) in result.stdout
    # Reviewed: no more warning.
    project.run("makemigrations", check=False)
    path = project.file("apps/pets/migrations/0002_remove_pet_condition.py")
    path.write_text(path.read_text() + "\nallow_destructive = True\n")
    reviewed = project.run("makemigrations", "--check", "--lint")
    assert reviewed.returncode == 0, str(reviewed)
    assert "Warning" not in reviewed.stderr


def test_a_rewriting_type_change_is_marked_and_counted(project: Project) -> None:
    project.run("migrate", check=True)
    _edit(
        project,
        "    sex: Mapped[str | None] = mapped_column(String(10))\n",
        "    sex: Mapped[str | None] = mapped_column(String(5))\n",
    )
    result = project.run("makemigrations", "--lint")
    assert result.returncode == 1
    note = "rewrites the table: every row is copied while the table is locked"
    assert f"  ! ~ Alter column sex of pets_pet (type)\n      {note}\n" in result.stdout
    assert "\n1 operation rewrites the table.\n" in result.stdout
    source = project.file("apps/pets/migrations/0002_alter_pet_sex.py").read_text()
    assert f"! ~ Alter column sex of pets_pet (type)\n  {note}\n" in source
    if project.backend == "postgresql":
        assert (
            "      ! lock: ACCESS EXCLUSIVE on pets_pet: blocks reads and writes while it "
            "rewrites the table\n"
        ) in result.stdout
