"""Test harness: a temporary copy of the example project, driven through `python manage.py`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import servers
import sqlalchemy as sa
from tiny_project import TinyProject, execute, make_tiny_project

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql", "mariadb")
# The URL schemes users write; the framework picks the drivers.
USER_SCHEMES = {"postgresql": "postgresql", "mariadb": "mysql"}
PROJECT_FILES = ("manage.py", "settings.py", "apps", "migrations")
# Variables of the developer's shell that would leak into the project under test.
ISOLATED_VARIABLES = ("DATABASE_URL", "MANAGE_SETTINGS_MODULE")
# MANAGE_TEST_TEMPLATES=0: every `migrate` really runs (see Templates).
TEMPLATES_ON = os.environ.get("MANAGE_TEST_TEMPLATES", "1") != "0"
# MANAGE_TEST_RUN_LOG=path: one JSON line per `manage.py` run (test, arguments, seconds), to
# see where the suite's time goes.
RUN_LOG = os.environ.get("MANAGE_TEST_RUN_LOG")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


class Project:
    """A copy of the example project with its own database."""

    def __init__(self, path: Path, database_url: str, backend: str = "sqlite") -> None:
        self.path = path
        self.backend = backend
        self.driver_url = database_url  # what the tests connect with
        url = sa.engine.make_url(database_url)
        self.password = url.password
        user_url = url.set(drivername=USER_SCHEMES.get(backend, url.drivername))
        self.database_url = user_url.render_as_string(hide_password=False)
        self.env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
        self.env["DATABASE_URL"] = self.database_url
        self.initial_env = dict(self.env)
        self.server: servers.Server | None = None  # the server of its database, if ours
        self.from_template = False  # its last `migrate` was a copy of the template's

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = False, answers: str = ""
    ) -> Result:
        """`python manage.py args`; `answers` is what the user types (stdin).

        `migrate` of the untouched example project on an empty database is run for real once
        per backend and test process; later ones get a copy of its database and its output
        (class Templates)."""
        started = time.perf_counter()
        untouched = args == ("migrate",) and not (env or answers) and TEMPLATES.untouched(self)
        result = TEMPLATES.migrate(self) if untouched else None
        self.from_template = result is not None
        if result is None:
            result = self._run(args, env, answers)
            if untouched:
                TEMPLATES.remember(self, result)
        if RUN_LOG:
            _log_run(self, args, time.perf_counter() - started)
        if check:
            assert result.returncode == 0, str(result)
        return result

    def _run(self, args: tuple[str, ...], env: dict[str, str] | None, answers: str) -> Result:
        completed = subprocess.run(
            [sys.executable, "manage.py", *args],
            check=False,
            input=answers,
            cwd=self.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        result = Result(completed.returncode, completed.stdout, completed.stderr)
        if self.password:
            assert self.password not in result.stdout + result.stderr, "the password was shown"
        return result

    def python(self, code: str) -> Result:
        return self.python_with(code)

    def python_with(self, code: str, **env: str) -> Result:
        """`python -c code` in the project folder, with these environment variables set."""
        completed = subprocess.run(
            [sys.executable, "-c", code],
            check=False,
            cwd=self.path,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
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
        return sa.create_engine(self.driver_url, poolclass=sa.pool.NullPool)

    def tables(self) -> set[str]:
        engine = self.engine()
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def execute(self, *statements: str) -> list[tuple[object, ...]]:
        return execute(self.engine(), *statements)

    def insert(self, table: str, **values: object) -> None:
        """A row, written with SQLAlchemy so names are quoted right (MariaDB reserves `condition`)."""
        engine = self.engine()
        try:
            with engine.begin() as connection:
                reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
                connection.execute(reflected.insert().values(**values))
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
            if p.is_file()
            and not {"__pycache__", ".manage_cache"} & set(p.parts)  # caches may change
            and p.suffix != ".sqlite3"
        }
        state["<tables>"] = ",".join(sorted(self.tables()))
        state["<versions>"] = ",".join(sorted(self.versions()))
        return state


def _log_run(project: Project, args: tuple[str, ...], seconds: float) -> None:
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    line = {"test": test, "args": list(args), "seconds": round(seconds, 3)}
    line |= {"backend": project.backend, "template": project.from_template}
    assert RUN_LOG is not None
    with open(RUN_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


def files_digest(root: Path) -> str:
    """The names and contents of every file under `root`, bytecode caches left out."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(root)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass
class Template:
    """What a real `migrate` of the untouched example project did on an empty database."""

    result: Result
    saved: str  # the copy of its database: a file (SQLite) or a database on the server
    lock_file: bool = False  # SQLite: it left `<database>-lock` beside the file


class Templates:
    """One real `python manage.py migrate` per backend and test process; then copies.

    Most tests begin with `migrate` of the example project as copied, on an empty database:
    the same command on the same files, with the same output and the same schema, every
    time. The first run of each backend is real; its database is kept (SQLite: the file;
    PostgreSQL: a template database; MariaDB: a database whose tables are copied), and the
    later ones get a copy and its output, in milliseconds instead of a second or more.
    Anything else (other arguments, an edited file, another environment, a database that
    is not empty) runs for real. tests/test_harness.py checks that a copy is what a real
    run gives; MANAGE_TEST_TEMPLATES=0 turns the copies off.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="manage-test-templates-"))
        self.saved: dict[str, Template] = {}
        self.pristine: str | None = None  # files_digest of the example project as copied
        self.databases: list[tuple[servers.Server, str]] = []  # to drop at the end

    def migrate(self, project: Project) -> Result | None:
        """The template's result, its database copied into the (untouched) project's; None:
        no template yet, run it."""
        template = self.saved.get(project.backend)
        if template is None:
            return None
        if project.backend == "sqlite":
            target = _sqlite_path(project)
            shutil.copyfile(template.saved, target)
            if template.lock_file:
                Path(f"{target}-lock").touch()
        elif project.backend == "postgresql":
            assert project.server is not None
            name = _database_name(project)
            with project.server.engine.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
                connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template.saved}")
        else:
            assert project.server is not None
            _copy_mariadb_tables(project.server, template.saved, _database_name(project))
        return template.result

    def remember(self, project: Project, result: Result) -> None:
        """Keep the database of a real, successful `migrate` of the (untouched) project."""
        if project.backend in self.saved or result.returncode != 0:
            return
        if str(project.path) in str(result):
            return
        if project.backend == "sqlite":
            saved = self.folder / "sqlite.sqlite3"
            shutil.copyfile(_sqlite_path(project), saved)
            lock = Path(f"{_sqlite_path(project)}-lock").exists()
            self.saved["sqlite"] = Template(result, str(saved), lock)
            return
        if project.server is None:
            return
        name = f"test_template_{uuid.uuid4().hex[:12]}"
        source = _database_name(project)
        try:
            with project.server.engine.connect() as connection:
                if project.backend == "postgresql":  # refused while a session uses the source
                    connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {source}")
                else:
                    connection.exec_driver_sql(f"CREATE DATABASE {name}")
            self.databases.append((project.server, name))
            if project.backend == "mariadb":
                _copy_mariadb_tables(project.server, source, name)
        except sa.exc.DBAPIError:
            return  # no template this time: the next untouched migrate tries again
        self.saved[project.backend] = Template(result, name)

    def untouched(self, project: Project) -> bool:
        """The example project as copied, its environment as made, its database empty."""
        if not TEMPLATES_ON or project.env != project.initial_env:
            return False
        if project.backend != "sqlite" and project.server is None:
            return False
        return self._pristine_files(project) and _database_is_empty(project)

    def _pristine_files(self, project: Project) -> bool:
        if self.pristine is None:
            example = self.folder / "example"
            if not example.exists():
                _copy_project(example)
            self.pristine = files_digest(example)
        return files_digest(project.path) == self.pristine

    def drop(self) -> None:
        for server, name in self.databases:
            server.drop_database(name)
        self.databases.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


def _sqlite_path(project: Project) -> Path:
    database = sa.engine.make_url(project.driver_url).database
    assert database, project.driver_url
    return Path(database)


def _database_name(project: Project) -> str:
    name = sa.engine.make_url(project.driver_url).database
    assert name and name.isidentifier(), project.driver_url
    return name


def _database_is_empty(project: Project) -> bool:
    """No table, view, sequence or type of its own: the database as the fixture made it."""
    if project.backend == "sqlite":
        path = _sqlite_path(project)
        if not path.exists():
            return True
        import sqlite3

        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    engine = project.engine()
    try:
        with engine.connect() as connection:
            if project.backend == "postgresql":
                query = (
                    "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
                    "'information_schema') AND n.nspname NOT LIKE 'pg_toast%%') + (SELECT "
                    "count(*) FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', "
                    "'information_schema', 'public') AND nspname NOT LIKE 'pg_%%') + (SELECT "
                    "count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE n.nspname = 'public')"
                )
            else:
                query = (
                    "SELECT (SELECT count(*) FROM information_schema.tables WHERE "
                    "table_schema = DATABASE()) + (SELECT count(*) FROM "
                    "information_schema.routines WHERE routine_schema = DATABASE())"
                )
            return connection.exec_driver_sql(query).scalar() == 0
    finally:
        engine.dispose()


def _copy_mariadb_tables(server: servers.Server, source: str, target: str) -> None:
    """Every table of `source` (definition and rows) into the empty database `target`."""
    with server.engine.connect() as connection:
        tables = connection.exec_driver_sql(
            "SELECT table_name, table_type FROM information_schema.tables "
            f"WHERE table_schema = '{source}'"
        ).all()
        assert all(kind == "BASE TABLE" for _, kind in tables), tables
        connection.exec_driver_sql("SET SESSION foreign_key_checks = 0")
        connection.exec_driver_sql(f"USE `{target}`")
        for table, _ in tables:
            create = connection.exec_driver_sql(f"SHOW CREATE TABLE `{source}`.`{table}`").one()
            connection.exec_driver_sql(str(create[1]).replace("%", "%%"))
            connection.exec_driver_sql(
                f"INSERT INTO `{target}`.`{table}` SELECT * FROM `{source}`.`{table}`"
            )
        connection.exec_driver_sql("SET SESSION foreign_key_checks = 1")


TEMPLATES = Templates()


class Servers:
    """The database servers of this test session, started on first use."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="manage-test-servers-"))
        self.root.chmod(0o711)  # the servers run as their own users
        self.started: dict[str, servers.Server] = {}

    def get(self, backend: str) -> servers.Server:
        if backend not in self.started:
            import fcntl

            start = {"postgresql": servers.postgresql, "mariadb": servers.mariadb}[backend]
            # pytest-xdist's workers each start their own: one at a time (two
            # mariadb-install-db at once were seen to fail).
            with open(Path(tempfile.gettempdir()) / "manage-test-servers.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self.started[backend] = start(self.root / backend)
        return self.started[backend]

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_servers() -> Iterator[Servers]:
    started = Servers()
    yield started
    TEMPLATES.drop()
    started.stop()


def _copy_project(root: Path) -> None:
    root.mkdir()
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(
                source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3")
            )
        else:
            shutil.copy2(source, root / name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def project(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Project:
    """The example project on a fresh database of each backend in turn."""
    _copy_project(tmp_path / "site")
    url = _database_url_for(request, backend)
    project = Project(tmp_path / "site", url, backend)
    if backend != "sqlite":
        project.server = request.getfixturevalue("database_servers").get(backend)
    return project


@pytest.fixture
def make_project(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], Project]:
    """More copies of the example project, each on a fresh database of the backend asked for."""

    def make(backend: str) -> Project:
        root = tmp_path / f"site-{backend}-{uuid.uuid4().hex[:6]}"
        _copy_project(root)
        if backend == "sqlite":
            return Project(root, f"sqlite:///{root / 'db.sqlite3'}")
        server = request.getfixturevalue("database_servers").get(backend)
        name = f"test_{uuid.uuid4().hex[:12]}"
        url = server.create_database(name)
        request.addfinalizer(lambda: server.drop_database(name))
        project = Project(root, url, backend)
        project.server = server
        return project

    return make


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    """The example project on SQLite, for what does not depend on the database."""
    _copy_project(tmp_path / "site")
    return Project(tmp_path / "site", f"sqlite:///{tmp_path / 'site' / 'db.sqlite3'}")


def _database_url_for(request: pytest.FixtureRequest, backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{request.getfixturevalue('tmp_path') / 'site' / 'db.sqlite3'}"
    server = request.getfixturevalue("database_servers").get(backend)
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    request.addfinalizer(lambda: server.drop_database(name))
    return url


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyProject:
    """A tiny project (apps `crm` and `shop`, no models yet) importable in this process."""
    return make_tiny_project(tmp_path, monkeypatch)


def skip_on(project: Project, backend: str, reason: str) -> None:
    """Skip for one database, with the reason said (never silently)."""
    if project.backend == backend:
        pytest.skip(f"{backend}: {reason}")


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
    TEMPLATES.drop()  # the servers' databases went with the servers' fixture
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = reporter.stats.get("passed", []) if reporter else []
    if session.testscollected == 0 or not passed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def start(project: Project, *args: str) -> subprocess.Popen[str]:
    """`python manage.py args` in the background, its output piped (text)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=project.path,
        env=project.env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def silent_server() -> tuple[socket.socket, int]:
    """A server that accepts connections and never answers (not even a greeting)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    threading.Thread(
        target=lambda: accepted.extend(server.accept()[0] for _ in iter(int, 1)), daemon=True
    ).start()
    return server, server.getsockname()[1]


def write_migration(
    project: Project, app: str, name: str, down: str, upgrade: str, downgrade: str = "pass"
) -> None:
    """A hand-written migration file `apps/<app>/migrations/<name>.py`."""
    body = "\n".join(f"    {line}" for line in upgrade.strip().splitlines())
    undo = "\n".join(f"    {line}" for line in downgrade.strip().splitlines())
    project.file(f"apps/{app}/migrations/{name}.py").write_text(
        f'"""{app}.{name}"""\n\nimport os\nimport time\nfrom pathlib import Path\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "{app}_{name}"\ndown_revision = "{down}"\nbranch_labels = None\ndepends_on = None\n\n\n'
        f"def upgrade() -> None:\n{body}\n\n\ndef downgrade() -> None:\n{undo}\n"
    )


def install_test_app(project: Project, name: str) -> None:
    """Copy `tests/apps/<name>` into the project and add it to INSTALLED_APPS."""
    shutil.copytree(
        REPO / "tests" / "apps" / name,
        project.file(f"apps/{name}"),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    settings = project.file("settings.py")
    settings.write_text(
        settings.read_text().replace('"apps.pets",', f'"apps.pets",\n    "apps.{name}",')
    )


def ordinary_changes(lines: list[str]) -> list[str]:
    """makemigrations' change lines as Alembic's ordinary forms would read: on PostgreSQL an
    app's change may come as two migrations, the second of lock-safe steps (concurrent index
    builds, validations, the not-null check; project.autogen.lock_safe), and a change that
    rewrites a table says so below it: tests/test_lock_safe.py and test_lock_lint.py check
    those. Here only what changes counts."""
    kept = []
    for line in lines:
        steps = ("~ Validate constraint ", "_not_null on ", "_not_null from ")
        if (
            line.endswith(".py")
            or line.startswith("rewrites the table")
            or any(step in line for step in steps)
        ):
            continue
        line = line.replace(" (concurrently)", "").replace(" (not valid)", "")
        kept.append(line.replace(", not valid)", ")"))
    return kept


def with_settings(project: Project, **values: object) -> None:
    """Append settings to the copy's settings.py."""
    project.append(
        "settings.py", "".join(f"\n{name} = {value!r}\n" for name, value in values.items())
    )
