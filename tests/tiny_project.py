"""A tiny project in a temporary folder, for in-process tests of the engine's modules.

Each project gets a package name of its own (`tiny_<hex>`), so its apps' modules never meet
another test's in `sys.modules`, and its models sit on a MetaData of their own, so two tests
may both define `shop_item`. The app labels stay readable: `tiny_<hex>.shop` is `shop`.
"""

from __future__ import annotations

import shutil
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from project.settings import Settings

REPO = Path(__file__).resolve().parents[1]

BASE = """\
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from project.db import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
"""


@dataclass
class TinyProject:
    root: Path  # the folder on sys.path, holding the package
    package: str  # tiny_<hex>
    labels: tuple[str, ...]
    protect_unowned_tables: bool = True

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.root / 'db.sqlite3'}"

    @property
    def settings(self) -> Settings:
        return Settings(
            module=f"{self.package}.settings",
            base_dir=self.root,
            installed_apps=tuple(f"{self.package}.{label}" for label in self.labels),
            database_url=self.database_url,
            protect_unowned_tables=self.protect_unowned_tables,
        )

    def app_dir(self, label: str) -> Path:
        return self.root / self.package / label

    def migrations_dir(self, label: str) -> Path:
        return self.app_dir(label) / "migrations"

    def models(self, label: str, body: str) -> None:
        """The app's models.py: `body` after `from <package>.base import Base` and the usual
        SQLAlchemy imports."""
        header = (
            "from sqlalchemy import ForeignKey, Integer, String\n"
            "from sqlalchemy.orm import Mapped, mapped_column\n\n"
            f"from {self.package}.base import Base\n\n\n"
        )
        (self.app_dir(label) / "models.py").write_text(header + textwrap.dedent(body))

    def migration(
        self,
        label: str,
        name: str,
        upgrade: str,
        down: str | None = None,
        depends_on: str | None = None,
        extra: str = "",
        branch: bool = False,
    ) -> str:
        """A hand-written migration `<label>/migrations/<name>.py`; returns its revision."""
        revision = f"{label}_{name}"
        body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
        label_line = f"({label!r},)" if branch or down is None else "None"
        text = (
            f'"""{label}.{name}"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            f"branch_labels = {label_line}\ndepends_on = {depends_on!r}\n{extra}\n\n"
            f"def upgrade() -> None:\n{body}\n\n\ndef downgrade() -> None:\n    pass\n"
        )
        (self.migrations_dir(label) / f"{name}.py").write_text(text)
        return revision

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)

    def execute(self, *statements: str) -> list[tuple[object, ...]]:
        return execute(self.engine(), *statements)


def execute(engine: sa.Engine, *statements: str) -> list[tuple[object, ...]]:
    """Run the statements in one transaction; the rows of the last that returns any. The
    engine is disposed of afterwards."""
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


def make_tiny_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labels: tuple[str, ...] = ("crm", "shop")
) -> TinyProject:
    """The apps `labels` (each with an empty models.py and migrations folder), the repo's
    `migrations/` (env.py, the file template) and a SQLite database, importable in-process."""
    root = tmp_path / "tiny"
    package = f"tiny_{uuid.uuid4().hex[:10]}"
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "base.py").write_text(BASE)
    (root / package / "settings.py").write_text("INSTALLED_APPS = []\n")
    shutil.copytree(
        REPO / "migrations", root / "migrations", ignore=shutil.ignore_patterns("__pycache__")
    )
    project = TinyProject(root, package, labels)
    for label in labels:
        project.migrations_dir(label).mkdir(parents=True)
        (project.app_dir(label) / "__init__.py").write_text("")
        (project.app_dir(label) / "models.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    return project
