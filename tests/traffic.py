"""Migrations under write traffic on PostgreSQL: a populated table, a writer in another
process, and the longest time one of its writes waited.

Used by tests/test_traffic.py and bench/traffic.py. A `Lab` keeps one populated template
database (the example app `shop` migrated to its first migration, then `rows` orders put in
with `INSERT ... SELECT generate_series`); each run of a change gets a copy of it
(`CREATE DATABASE ... TEMPLATE`, a file copy: far cheaper than populating again). Each change
of `CHANGES` is made twice on its own copy: by our `makemigrations` + `migrate`, and as a plain
Alembic project writes it (`alembic revision --autogenerate` + `alembic upgrade head`), each
while `traffic()` runs a writer that inserts and updates `shop_order` in short transactions.

The writer is `python tests/traffic.py URL TABLE ROWS`: it says `ready` on stdout after its
first write, writes until its stdin is closed, then prints its report as one JSON line.
A write is one statement and its commit; its latency is measured around both, so a write
queued behind a migration's lock counts the whole wait.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TABLE = "shop_order"
PARENT = "shop_customer"
CUSTOMERS = 1000
PAUSE = 0.005  # seconds between two writes: ~150 writes a second, gentle on 2 cores
COMMAND_TIMEOUT = 300

# squawk's rules about locks: each flags a statement that blocks reads or writes for as long
# as it scans or builds (https://squawkhq.com/docs/<rule>). Ours must have none of them.
LOCK_RULES = frozenset(
    {
        "require-concurrent-index-creation",
        "require-concurrent-index-deletion",
        "ban-concurrent-index-creation-in-transaction",
        "constraint-missing-not-valid",
        "adding-foreign-key-constraint",
        "disallowed-unique-constraint",
        "adding-not-nullable-field",
        "require-lock-timeout",
    }
)
# Rules left out, and why: no SQL satisfies them, or they are about style, not locks.
EXCLUDED_RULES = {
    # fires on every ALTER COLUMN TYPE, also the ones that rewrite nothing
    "changing-column-type": "fires on every type change, safe or not",
    # fires on every DROP CONSTRAINT, also the NOT NULL recipe's last, lock-brief step
    "ban-drop-constraint": "fires on every DROP CONSTRAINT",
    # asks for IF [NOT] EXISTS on every statement outside a transaction (a style rule)
    "prefer-robust-stmts": "asks for IF [NOT] EXISTS everywhere (re-runs, not locks)",
    # asks for text instead of varchar(n): about types, not locks
    "prefer-text-field": "asks for text instead of varchar(n) (types, not locks)",
    # the statement_timeout that squawk wants would also cut a long CREATE INDEX CONCURRENTLY
    "require-statement-timeout": "a statement_timeout would cut a long concurrent build",
    "prefer-bigint-over-int": "about types, not locks",
    "prefer-identity": "about types, not locks",
}


@dataclass(frozen=True)
class Change:
    """One schema change to `shop_order`, as model source for ours and for plain Alembic."""

    name: str
    columns: dict[str, str] = field(default_factory=dict)  # column name -> its new line
    plain_columns: dict[str, str] = field(default_factory=dict)  # plain Alembic's, if other
    table_args: str = ""  # ours: the `__table_args__` tuple's items
    plain_table_args: str = ""
    answers: str = ""  # what a person types to makemigrations' questions


# The columns of `shop_order` before any change (its first migration).
ORDER_COLUMNS = {
    "id": "id: Mapped[int] = mapped_column(primary_key=True)",
    "code": "code: Mapped[str] = mapped_column(String(40))",
    "amount": "amount: Mapped[int]",
    "note": "note: Mapped[str | None] = mapped_column(String(100))",
}
CHANGES = (
    Change("add index", {"code": "code: Mapped[str] = mapped_column(String(40), index=True)"}),
    Change(
        "add FK column",
        {
            "customer_id": (
                "customer_id: Mapped[int | None] = "
                'mapped_column(ForeignKey("shop_customer.id"), index=True)'
            )
        },
    ),
    Change("add unique", {"code": "code: Mapped[str] = mapped_column(String(40), unique=True)"}),
    # Ours: an unnamed check, as the project's models write them (the naming convention
    # names it). Alembic compares checks only by name, with its opt-in plugin
    # alembic.ext.checkconstraint_byname, so plain Alembic's is named.
    Change(
        "add check",
        table_args='CheckConstraint("amount >= 0"),',
        plain_table_args='CheckConstraint("amount >= 0", name="ck_shop_order_amount"),',
    ),
    # makemigrations asks for a default for the rows; 2: there are no NULLs to fill.
    Change(
        "set NOT NULL", {"note": "note: Mapped[str] = mapped_column(String(100))"}, answers="2\n"
    ),
    Change(
        "add column with default",
        {"status": 'status: Mapped[str] = mapped_column(String(20), server_default="new")'},
    ),
)

MODELS_HEADER = """from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column
"""
OURS_BASE = """
from project.db import Model
"""
PLAIN_BASE = """from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Model(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })
"""
# `alembic init`'s env.py, with the URL from the environment and Alembic's own opt-in
# comparison of named check constraints.
PLAIN_ENV = """import os

from alembic import context
from sqlalchemy import create_engine

import models

options = dict(
    target_metadata=models.Model.metadata,
    autogenerate_plugins=["alembic.autogenerate.*", "alembic.ext.checkconstraint_byname"],
)
if context.is_offline_mode():
    context.configure(url=os.environ["DB_URL"], literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(os.environ["DB_URL"]).connect() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
"""
# `alembic revision --autogenerate -m change`, then `alembic upgrade head --sql` (the SQL on
# stdout), through Alembic's command API in one process: one interpreter start, not two.
PLAIN_WRITE = """import sys
from contextlib import redirect_stdout

from alembic import command
from alembic.config import Config

config = Config("alembic.ini", stdout=sys.stderr, output_buffer=sys.stdout)
with redirect_stdout(sys.stderr):  # "Generating ... done" is printed to sys.stdout
    command.revision(config, message="change", autogenerate=True)
command.upgrade(config, "head", sql=True)
"""
PLAIN_INI = """[alembic]
script_location = %(here)s/alembic
prepend_sys_path = .
path_separator = os
"""


def models_source(change: Change | None, plain: bool) -> str:
    """`shop`'s models.py: customers and orders, with `change` made (None: the first state)."""
    columns = dict(ORDER_COLUMNS)
    table_args = ""
    if change is not None:
        columns.update((change.plain_columns or change.columns) if plain else change.columns)
        table_args = (change.plain_table_args or change.table_args) if plain else change.table_args
    names = ('    __tablename__ = "shop_customer"\n', '    __tablename__ = "shop_order"\n')
    customer_name, order_name = names if plain else ("", "")
    order = "".join(f"    {line}\n" for line in columns.values())
    if table_args:
        order += f"\n    __table_args__ = ({table_args})\n"
    return (
        MODELS_HEADER
        + (PLAIN_BASE if plain else OURS_BASE)
        + "\n\nclass Customer(Model):\n"
        + customer_name
        + "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        + "    name: Mapped[str] = mapped_column(String(100))\n"
        + "\n\nclass Order(Model):\n"
        + order_name
        + order
    )


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://...`) as psycopg and libpq take it."""
    import sqlalchemy as sa

    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)


def populate(url: str, rows: int) -> None:
    """`rows` orders (distinct codes, amounts >= 0, no NULL note) and CUSTOMERS customers,
    then VACUUM ANALYZE, so that an index build sees a settled table as production has."""
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(
            f"INSERT INTO {PARENT} (name) SELECT 'customer ' || n "
            f"FROM generate_series(1, {CUSTOMERS}) n"
        )
        connection.execute(
            f"INSERT INTO {TABLE} (code, amount, note) SELECT md5(n::text), n % 1000, "
            f"'note ' || n FROM generate_series(1, {rows}) n"
        )
        connection.execute(f"VACUUM ANALYZE {PARENT}, {TABLE}")


@dataclass(frozen=True)
class Report:
    """What the writer saw: how many writes, the longest one, the ones that failed."""

    writes: int
    longest: float  # seconds
    failures: int = 0
    first_error: str = ""


@dataclass
class Traffic:
    report: Report | None = None


@contextmanager
def traffic(url: str, rows: int, table: str = TABLE) -> Iterator[Traffic]:
    """Writes to `table` from another process while the block runs; `.report` after it."""
    writer = subprocess.Popen(
        [sys.executable, __file__, libpq_url(url), table, str(rows)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdin is not None
    found = Traffic()
    try:
        if writer.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the writer did not start: {writer.communicate()[1]}")
        yield found
    finally:
        writer.stdin.close()  # the writer's signal to stop
        writer.wait(timeout=COMMAND_TIMEOUT)
    if writer.returncode != 0:
        raise RuntimeError(f"the writer failed: {writer.stderr.read()}")  # type: ignore[union-attr]
    found.report = Report(**json.loads(writer.stdout.read()))


def _write_until_stopped(url: str, table: str, rows: int) -> Report:
    """Alternately one INSERT and one UPDATE, each committed at once, until stdin closes."""
    import psycopg

    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    writes = failures = 0
    longest = 0.0
    first_error = ""
    # prepare_threshold=None: no server-side prepared statements, whose plans a DDL resets.
    with psycopg.connect(url, application_name="traffic-writer", prepare_threshold=None) as db:
        while not stop.is_set() or writes == 0:
            writes += 1
            started = time.perf_counter()
            try:
                if writes % 2:
                    db.execute(
                        f"INSERT INTO {table} (code, amount, note) VALUES (%s, %s, %s)",
                        (f"w{os.getpid()}-{writes}", writes % 1000, f"written {writes}"),
                    )
                else:
                    db.execute(
                        f"UPDATE {table} SET amount = amount + 1 WHERE id = %s",
                        ((writes * 7919) % rows + 1,),
                    )
                db.commit()
            except psycopg.Error as error:
                db.rollback()
                failures += 1
                first_error = first_error or str(error).splitlines()[0]
            longest = max(longest, time.perf_counter() - started)
            if writes == 1:
                print("ready", flush=True)
            time.sleep(PAUSE)
    return Report(writes, round(longest, 3), failures, first_error)


# --- the projects


def clean_env(database_url: str) -> dict[str, str]:
    """This process's environment pointed at `database_url`: ours reads DATABASE_URL (the
    scheme users write), plain Alembic's env.py DB_URL."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MANAGE_SETTINGS_MODULE")
    }
    env["DATABASE_URL"] = database_url.replace("postgresql+psycopg://", "postgresql://")
    env["DB_URL"] = database_url
    return env


def run(
    command: list[str], cwd: Path, env: dict[str, str], answers: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        input=answers,
        capture_output=True,
        text=True,
        check=False,
        timeout=COMMAND_TIMEOUT,
    )


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(result.args)}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        )
    return result


def write_our_project(folder: Path) -> Path:
    """A project with the one app `shop`, at its first state (no migration yet)."""
    (folder / "apps" / "shop" / "migrations").mkdir(parents=True)
    shutil.copy(REPO / "manage.py", folder)
    shutil.copytree(
        REPO / "migrations", folder / "migrations", ignore=shutil.ignore_patterns("__pycache__")
    )
    (folder / "settings.py").write_text(
        "from pathlib import Path\n\nBASE_DIR = Path(__file__).resolve().parent\n"
        'INSTALLED_APPS = ["apps.shop"]\nDATABASE_URL = "sqlite:///db.sqlite3"\n'
    )
    (folder / "apps" / "__init__.py").write_text("")
    (folder / "apps" / "shop" / "__init__.py").write_text("")
    (folder / "apps" / "shop" / "models.py").write_text(models_source(None, plain=False))
    return folder


def write_plain_project(folder: Path, change: Change) -> Path:
    """A plain Alembic project (`alembic init`'s layout) whose models have `change` made and
    which has no revision yet: its database has the tables of the first state."""
    import alembic

    (folder / "alembic" / "versions").mkdir(parents=True)
    (folder / "alembic.ini").write_text(PLAIN_INI)
    (folder / "alembic" / "env.py").write_text(PLAIN_ENV)
    templates = Path(alembic.__file__).parent / "templates" / "generic"
    shutil.copy(templates / "script.py.mako", folder / "alembic")
    (folder / "models.py").write_text(models_source(change, plain=True))
    return folder


@dataclass
class Outcome:
    """One change made by one tool under traffic."""

    change: str
    tool: str  # "ours" or "plain Alembic"
    migrate: subprocess.CompletedProcess[str]
    report: Report
    sql: list[str]  # the SQL of each migration file written, as offline mode prints it
    files: list[str]  # the migration files written

    @property
    def completed(self) -> bool:
        return self.migrate.returncode == 0


class Lab:
    """A populated template database on a PostgreSQL server, and the change runs on copies."""

    def __init__(self, server: object, work: Path, rows: int) -> None:
        self.server = server  # tests/servers.py's Server: create_database, drop_database
        self.work = work
        self.rows = rows
        self.template = f"traffic_tpl_{uuid.uuid4().hex[:10]}"
        self.ours_base = work / "ours-base"
        self.template_url = ""
        self.databases: list[str] = [self.template]

    def prepare(self) -> None:
        """The template: `shop`'s first migration written and applied, then populated."""
        self.template_url = self.server.create_database(self.template)  # type: ignore[attr-defined]
        write_our_project(self.ours_base)
        manage = [sys.executable, "manage.py"]
        env = clean_env(self.template_url)
        checked(run([*manage, "makemigrations", "shop", "-n", "initial"], self.ours_base, env))
        checked(run([*manage, "migrate"], self.ours_base, env))
        # makemigrations compares with a replay of the history on the server, kept (as
        # `mstate_...`) per configured database: made now, once, for every change's run.
        checked(run([*manage, "makemigrations", "--check"], self.ours_base, env))
        populate(self.template_url, self.rows)

    def copy(self, plain: bool) -> str:
        """A new database, a copy of the template; for plain Alembic without our history
        tables (Alembic's own `alembic_version` is made by its first upgrade)."""
        name = f"traffic_{uuid.uuid4().hex[:10]}"
        engine = self.server.engine  # type: ignore[attr-defined]
        with engine.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        self.databases.append(name)
        url: str = self.server.admin_url.set(database=name).render_as_string(False)  # type: ignore[attr-defined]
        if plain:
            import psycopg

            with psycopg.connect(libpq_url(url), autocommit=True) as connection:
                tables = connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
                for (table,) in tables:
                    if table not in (TABLE, PARENT):
                        connection.execute(f'DROP TABLE "{table}"')
        return url

    def ours(self, change: Change) -> Outcome:
        """`makemigrations`, then `migrate` under traffic, on a copy of the template."""
        folder = self.work / f"ours-{uuid.uuid4().hex[:8]}"
        shutil.copytree(self.ours_base, folder, ignore=shutil.ignore_patterns("__pycache__"))
        url = self.copy(plain=False)
        env = clean_env(url)
        manage = [sys.executable, "manage.py"]
        (folder / "apps" / "shop" / "models.py").write_text(models_source(change, plain=False))
        before = set(os.listdir(folder / "apps" / "shop" / "migrations"))
        # Written as on a developer's machine (configured: the template, whose replayed
        # history is kept), applied as on production (the copy).
        written_env = clean_env(self.template_url)
        checked(run([*manage, "makemigrations"], folder, written_env, change.answers))
        written = sorted(
            name
            for name in set(os.listdir(folder / "apps" / "shop" / "migrations")) - before
            if name.endswith(".py")
        )
        sql = [
            checked(run([*manage, "sqlmigrate", "shop", name[:-3]], folder, env)).stdout
            for name in written
        ]
        with traffic(url, self.rows) as seen:
            migrate = run([*manage, "migrate"], folder, env)
        assert seen.report is not None
        return Outcome(change.name, "ours", migrate, seen.report, sql, written)

    def plain(self, change: Change) -> Outcome:
        """Alembic's autogenerate writes the revision, then `alembic upgrade head` under traffic."""
        folder = write_plain_project(self.work / f"plain-{uuid.uuid4().hex[:8]}", change)
        url = self.copy(plain=True)
        env = clean_env(url)
        sql = [checked(run([sys.executable, "-c", PLAIN_WRITE], folder, env)).stdout]
        written = sorted(p.name for p in (folder / "alembic" / "versions").glob("*.py"))
        with traffic(url, self.rows) as seen:
            migrate = run([sys.executable, "-m", "alembic", "upgrade", "head"], folder, env)
        assert seen.report is not None
        return Outcome(change.name, "plain Alembic", migrate, seen.report, sql, written)

    def drop(self) -> None:
        for name in reversed(self.databases):
            self.server.drop_database(name)  # type: ignore[attr-defined]
        self.databases.clear()


# --- squawk


def squawk_hits(sql: str) -> list[str]:
    """The rule names squawk reports for `sql`, each hit once, excluded rules left out."""
    squawk = shutil.which(
        "squawk", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if squawk is None:
        raise RuntimeError("squawk is missing: pip install 'squawk-cli>=2.70,<3'")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "migration.sql"
        path.write_text(sql)
        result = subprocess.run(
            [squawk, "--reporter", "json", "--pg-version", "15", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=COMMAND_TIMEOUT,
        )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"squawk failed: exit {result.returncode}\n{result.stderr}")
    found = json.loads(result.stdout or "[]")
    if any(hit["rule_name"] == "syntax-error" for hit in found):  # it judged nothing
        raise RuntimeError(f"squawk could not parse the SQL:\n{sql}")
    return [hit["rule_name"] for hit in found if hit["rule_name"] not in EXCLUDED_RULES]


def lock_hits(outcome: Outcome) -> list[str]:
    """squawk's lock-rule hits over every migration file the tool wrote."""
    return [rule for sql in outcome.sql for rule in squawk_hits(sql) if rule in LOCK_RULES]


if __name__ == "__main__":
    report = _write_until_stopped(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    print(json.dumps(report.__dict__), flush=True)
