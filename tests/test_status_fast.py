"""showmigrations, migrate --check and a no-op migrate from the cached history (project.engine.fast_status).

Each command runs twice on the same project: the full way (the cache removed first, so the
run loads the history and writes the cache again), then with the cache, with Python's import
profile on (`PYTHONPROFILEIMPORTTIME`, as `python -X importtime`), which tells whether Alembic
was imported. Both must say the same, byte for byte; the second must skip Alembic exactly
when the situation is plain (SQLite or PostgreSQL, a cache of these files, rows the files
explain).
"""

from __future__ import annotations

import os

import pytest
from conftest import Project, Result, with_settings, write_migration

CACHE = ".manage_cache/status.json"
TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
IMPORT_PROFILE = {"PYTHONPROFILEIMPORTTIME": "1"}
FAST_BACKENDS = ("sqlite", "postgresql")  # MariaDB: DDL is not transactional (engine.resume)

# Every form of the status commands, on the example project with everything applied.
STATUS_FORMS = [
    ("showmigrations",),
    ("showmigrations", "--plan"),
    ("showmigrations", "pets"),
    ("showmigrations", "-p", "owners"),
    ("showmigrations", "--list", "owners", "pets"),
    ("showmigrations", "-v", "2"),
    ("showmigrations", "nosuch"),
    ("migrate",),
    ("migrate", "owners"),
    ("migrate", "owners", "0002"),
    ("migrate", "pets", "0001_initial"),
    ("migrate", "--skip-checks"),
    ("migrate", "-v", "0"),
    ("migrate", "--check"),
    ("migrate", "--check", "pets"),
    ("migrate", "nosuch"),
    ("migrate", "owners", "9999"),
]


def _profiled(result: Result) -> tuple[Result, bool]:
    """The result without the import profile's lines, and whether Alembic was imported."""
    lines = result.stderr.splitlines(keepends=True)
    profile = [line for line in lines if line.startswith("import time:")]
    rest = "".join(line for line in lines if not line.startswith("import time:"))
    alembic = any(line.split("|")[-1].strip() == "alembic" for line in profile)
    return Result(result.returncode, result.stdout, rest), alembic


def full_then_cached(project: Project, *args: str) -> tuple[Result, Result, bool]:
    """(the full path's result, the cached one's, whether the cached run imported Alembic)."""
    project.file(CACHE).unlink(missing_ok=True)
    full, full_alembic = _profiled(project.run(*args, env=IMPORT_PROFILE))
    assert full_alembic or full.returncode == 2, f"no cache, yet no Alembic: {full}"
    cached, alembic = _profiled(project.run(*args, env=IMPORT_PROFILE))
    return full, cached, alembic


def assert_same(project: Project, *args: str, fast: bool) -> Result:
    full, cached, alembic = full_then_cached(project, *args)
    assert cached == full, f"{args}\n--- full\n{full}\n--- cached\n{cached}"
    if full.returncode != 2:  # a usage error stops before anything is read
        assert alembic is not fast, f"{args}: {'fallback' if alembic else 'fast path'} taken"
    return full


def test_status_forms_answer_alike_and_fast_where_plain(project: Project) -> None:
    project.run("migrate", check=True)
    for args in STATUS_FORMS:
        assert_same(project, *args, fast=project.backend in FAST_BACKENDS)


def test_targets_that_would_unapply_take_the_full_path(project: Project) -> None:
    project.run("migrate", check=True)
    out, alembic = _profiled(project.run("migrate", "owners", "0001", env=IMPORT_PROFILE))
    assert alembic and "Unapplying owners.0002_lowercase_emails... OK" in out.stdout
    # At it, with pets after it: Alembic refuses (pets' migration depends on it).
    assert_same(project, "migrate", "owners", "0001", fast=False)
    project.run("migrate", check=True)
    assert_same(project, "migrate", "pets", "zero", "--check", fast=False)
    project.run("migrate", "pets", "zero", check=True)
    assert_same(project, "migrate", "pets", "zero", fast=project.backend in FAST_BACKENDS)
    assert_same(project, "showmigrations", fast=project.backend in FAST_BACKENDS)


def test_an_edited_applied_file_is_marked_alike(project: Project) -> None:
    project.run("migrate", check=True)
    project.append("apps/owners/migrations/0002_lowercase_emails.py", "\n# edited\n")
    fast = project.backend in FAST_BACKENDS
    out = assert_same(project, "showmigrations", fast=fast)
    assert "0002_lowercase_emails (changed since it was applied)" in out.stdout
    assert "Warning: owners.0002_lowercase_emails changed" in out.stderr
    assert_same(project, "showmigrations", "-v", "2", fast=fast)
    out = assert_same(project, "migrate", fast=fast)
    assert "Warning: owners.0002_lowercase_emails changed" in out.stderr
    assert_same(project, "migrate", "--check", fast=fast)
    with_settings(project, STRICT_MIGRATION_CHECKSUMS=True)
    out = assert_same(project, "migrate", fast=False)  # the error: the full path says it
    assert out.returncode == 1 and "STRICT_MIGRATION_CHECKSUMS is on" in out.stderr
    assert_same(project, "showmigrations", fast=fast)


def test_an_unapplied_migration_is_shown_fast_and_applied_the_full_way(project: Project) -> None:
    project.run("migrate", check=True)
    write_migration(project, "owners", "0003_more", "owners_0002_lowercase_emails", "pass")
    fast = project.backend in FAST_BACKENDS
    out = assert_same(project, "showmigrations", "owners", fast=fast)
    assert out.stdout.endswith(" [ ] 0003_more\n")
    assert_same(project, "showmigrations", "--plan", fast=fast)
    out = assert_same(project, "migrate", "--check", fast=False)
    assert out.returncode == 1 and "owners.0003_more" in out.stdout
    full, cached, alembic = full_then_cached(project, "migrate")
    assert "Applying owners.0003_more... OK" in full.stdout and alembic is not fast
    assert cached.stdout.endswith("No migrations to apply.\n")
    assert_same(project, "migrate", fast=fast)


def test_a_conflict_is_shown_fast_and_refused_the_full_way(project: Project) -> None:
    project.run("migrate", check=True)
    for name in ("0003_left", "0003_right"):
        write_migration(project, "owners", name, "owners_0002_lowercase_emails", "pass")
    fast = project.backend in FAST_BACKENDS
    assert_same(project, "showmigrations", fast=fast)
    for args in (("migrate",), ("migrate", "--check"), ("migrate", "pets", "--skip-checks")):
        out = assert_same(project, *args, fast=False)
        assert out.returncode == 1 and "Conflicting migrations detected" in out.stderr


def test_ghosts_take_the_full_path(project: Project) -> None:
    project.run("migrate", check=True)
    project.file("apps/owners/migrations/0002_lowercase_emails.py").unlink()
    out = assert_same(project, "showmigrations", "owners", fast=False)
    assert "[?] 0002_lowercase_emails (applied, but its file is missing" in out.stdout
    assert_same(project, "showmigrations", "--plan", fast=False)
    out = assert_same(project, "migrate", fast=False)
    assert out.returncode == 1 and "no migration file for it" in out.stderr
    assert_same(project, "migrate", "--check", fast=False)


def test_squashed_ranges_are_shown_alike(project: Project) -> None:
    fast = project.backend in FAST_BACKENDS
    project.run("migrate", check=True)
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)
    project.run("migrate", "pets", "0001", check=True)
    project.run("squashmigrations", "pets", "0002", check=True)
    # Applied in part: the replaced view, which only the full path builds.
    assert_same(project, "showmigrations", fast=False)
    assert_same(project, "migrate", "--check", fast=False)
    project.run("migrate", check=True)  # all of the range applied: restamped on the squash
    out = assert_same(project, "showmigrations", "pets", fast=fast)
    assert out.stdout == "pets\n [X] 0001_squashed_0002_toy (2 squashed migrations)\n"
    assert_same(project, "migrate", fast=fast)


# Each situation the fast path leaves to the full one (SQLite: elsewhere it is always so).


def _migrated_sqlite(project: Project) -> Project:
    if project.backend != "sqlite":
        pytest.skip("the fast path reads SQLite only")
    project.run("migrate", check=True)
    return project


def test_nothing_applied_yet_takes_the_full_path(sqlite_project: Project) -> None:
    assert_same(sqlite_project, "showmigrations", fast=False)
    assert_same(sqlite_project, "migrate", "--check", fast=False)


def test_a_stale_cache_is_not_read(sqlite_project: Project) -> None:
    project = _migrated_sqlite(sqlite_project)
    project.run("showmigrations", check=True)  # writes the cache
    for path in ("apps/owners/migrations/0001_initial.py", "apps/pets/models.py"):
        stat = project.file(path).stat()
        os.utime(project.file(path), ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        out, alembic = _profiled(project.run("showmigrations", env=IMPORT_PROFILE))
        assert alembic and out.returncode == 0, path
        out, alembic = _profiled(project.run("showmigrations", env=IMPORT_PROFILE))
        assert not alembic, f"{path}: the full run wrote the cache again"


def test_an_unreadable_cache_is_not_read(sqlite_project: Project) -> None:
    project = _migrated_sqlite(sqlite_project)
    expected = project.run("showmigrations", check=True)
    project.file(CACHE).write_text('{"key": ')
    out, alembic = _profiled(project.run("showmigrations", env=IMPORT_PROFILE))
    assert alembic and out == expected


@pytest.mark.parametrize(
    "url_tail",
    ["?timeout=5", "+aiosqlite"],
    ids=["url-with-options", "async-driver"],
)
def test_other_urls_take_the_full_path(sqlite_project: Project, url_tail: str) -> None:
    project = _migrated_sqlite(sqlite_project)
    scheme, rest = project.database_url.split("://", 1)
    url = (
        f"{scheme}+aiosqlite://{rest}"
        if url_tail.startswith("+")
        else project.database_url + url_tail
    )
    project.env["DATABASE_URL"] = url
    for args in (("showmigrations",), ("migrate",), ("migrate", "--check")):
        assert_same(project, *args, fast=False)


def test_verbosity_3_takes_the_full_path(sqlite_project: Project) -> None:
    project = _migrated_sqlite(sqlite_project)
    out = assert_same(project, "showmigrations", "-v", "3", fast=False)
    assert "INFO [alembic" in out.stderr
    assert_same(project, "migrate", "-v", "3", fast=False)


def test_a_migration_the_history_never_recorded_is_recorded_the_full_way(
    sqlite_project: Project,
) -> None:
    project = _migrated_sqlite(sqlite_project)
    project.execute("DELETE FROM manage_migrations")
    assert_same(project, "migrate", "--check", fast=True)  # it records nothing
    project.file(CACHE).unlink()
    full, alembic = _profiled(project.run("migrate", env=IMPORT_PROFILE))
    assert alembic and full.returncode == 0
    assert len(project.execute("SELECT revision FROM manage_migrations")) == 3
    assert_same(project, "migrate", fast=True)


def test_a_graph_not_checked_since_is_checked_the_full_way(sqlite_project: Project) -> None:
    project = _migrated_sqlite(sqlite_project)
    project.run("migrate", check=True)
    for marker in project.file(".manage_cache").glob("graphok-*"):
        marker.unlink()
    out, alembic = _profiled(project.run("migrate", env=IMPORT_PROFILE))
    assert alembic and out.stdout.endswith("No migrations to apply.\n")
    out, alembic = _profiled(project.run("migrate", env=IMPORT_PROFILE))
    assert not alembic  # the full run checked it and left its marker
    for marker in project.file(".manage_cache").glob("graphok-*"):
        marker.unlink()
    assert_same(project, "showmigrations", fast=True)  # it runs no graph check
    assert_same(project, "migrate", "--skip-checks", fast=True)


def test_fake_runs_take_the_full_path(sqlite_project: Project) -> None:
    project = _migrated_sqlite(sqlite_project)
    for args in (("migrate", "--fake"), ("migrate", "--fake-initial")):
        assert_same(project, *args, fast=False)
