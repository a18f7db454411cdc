"""Test harness: a temporary copy of the example project, driven through `python manage.py`."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import servers
import sqlalchemy as sa
from tiny_project import TinyProject, make_tiny_project

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql", "mariadb")
# The URL schemes users write; the framework picks the drivers.
USER_SCHEMES = {"postgresql": "postgresql", "mariadb": "mysql"}
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

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = False, answers: str = ""
    ) -> Result:
        """`python manage.py args`; `answers` is what the user types (stdin)."""
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
        if check:
            assert result.returncode == 0, str(result)
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
    return Project(tmp_path / "site", url, backend)


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
        return Project(root, url, backend)

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


def with_settings(project: Project, **values: object) -> None:
    """Append settings to the copy's settings.py."""
    project.append(
        "settings.py", "".join(f"\n{name} = {value!r}\n" for name, value in values.items())
    )
