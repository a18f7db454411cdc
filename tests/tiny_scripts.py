"""A real Alembic script directory of three tiny revisions (a <- b <- c), in a folder, for
the in-process tests of project.adapter: no project, no settings, no subprocess."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

ENV = """
from alembic import context
from sqlalchemy import create_engine

config = context.config
engine = create_engine(config.attributes["url"])
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=config.attributes.get("metadata"))
    with context.begin_transaction():
        context.run_migrations()
"""

TEMPLATE = '''"""${message}"""
from alembic import op
import sqlalchemy as sa

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''

REVISION = '''"""{revision}"""
from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}


def upgrade():
    op.create_table("t_{revision}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("t_{revision}")
'''


def tiny_scripts(folder: Path, depends_on: dict[str, str] | None = None) -> Config:
    """Revisions a (branch label `main`), b and c, each creating the table t_<revision>;
    `depends_on` gives a revision a depends_on (a revision or a branch label)."""
    versions = folder / "versions"
    versions.mkdir(parents=True)
    (folder / "env.py").write_text(ENV)
    (folder / "script.py.mako").write_text(TEMPLATE)
    for revision, down in (("a", None), ("b", "a"), ("c", "b")):
        labels = ("main",) if revision == "a" else None
        depends = (depends_on or {}).get(revision)
        text = REVISION.format(revision=revision, down=down, labels=labels, depends=depends)
        (versions / f"{revision}.py").write_text(text)
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.attributes["url"] = f"sqlite:///{folder / 'db.sqlite3'}"
    return config
