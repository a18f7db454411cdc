"""Test harness: a temporary copy of the example project, driven through `python manage.py`."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("manage.py", "settings.py", "apps", "migrations")
# Variables of the developer's shell that would leak into the project under test.
ISOLATED_VARIABLES = ("DATABASE_URL", "MANAGE_SETTINGS_MODULE")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


class Project:
    """A copy of the example project with its own database."""

    def __init__(self, path: Path, database_url: str) -> None:
        self.path = path
        self.database_url = database_url
        self.env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
        self.env["DATABASE_URL"] = database_url

    def run(self, *args: str, env: dict[str, str] | None = None, check: bool = False) -> Result:
        completed = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        result = Result(completed.returncode, completed.stdout, completed.stderr)
        if check:
            assert result.returncode == 0, str(result)
        return result

    def python(self, code: str) -> Result:
        completed = subprocess.run(
            [sys.executable, "-c", code], cwd=self.path, env=self.env, capture_output=True, text=True, timeout=300
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def file(self, relative: str) -> Path:
        return self.path / relative

    def append(self, relative: str, text: str) -> None:
        with self.file(relative).open("a", encoding="utf-8") as handle:
            handle.write(text)

    def migrations(self, app: str) -> list[str]:
        return sorted(p.name for p in self.file(f"apps/{app}/migrations").glob("*.py"))

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)

    def tables(self) -> set[str]:
        engine = self.engine()
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def execute(self, *statements: str) -> list[tuple[object, ...]]:
        engine = self.engine()
        try:
            with engine.begin() as connection:
                rows: list[tuple[object, ...]] = []
                for statement in statements:
                    result = connection.exec_driver_sql(statement)
                    if result.returns_rows:
                        rows = [tuple(row) for row in result]
                return rows
        finally:
            engine.dispose()

    def versions(self) -> set[str]:
        if "alembic_version" not in self.tables():
            return set()
        return {str(row[0]) for row in self.execute("SELECT version_num FROM alembic_version")}

    def snapshot(self) -> dict[str, str]:
        """Hashes of every project file and of the database's schema and version rows."""
        state = {
            str(p.relative_to(self.path)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(self.path.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".sqlite3"
        }
        state["<tables>"] = ",".join(sorted(self.tables()))
        state["<versions>"] = ",".join(sorted(self.versions()))
        return state


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "site"
    root.mkdir()
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
        else:
            shutil.copy2(source, root / name)
    yield Project(root, f"sqlite:///{root / 'db.sqlite3'}")


def assert_error(result: Result, *fragments: str, code: int | None = None) -> None:
    """A clean failure: non-zero exit, one `Error:` line on stderr, no traceback."""
    assert result.returncode != 0, str(result)
    if code is not None:
        assert result.returncode == code, str(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), str(result)
    assert "Traceback" not in result.stderr + result.stdout, str(result)
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run in which no test passed (nothing collected, all skipped) must not look green."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = reporter.stats.get("passed", []) if reporter else []
    if session.testscollected == 0 or not passed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
