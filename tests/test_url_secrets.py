"""No password is printed or written, in any form a DATABASE_URL may carry it (issue 13, point 3)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from conftest import Project, Result, Servers, assert_error

from project.backends.connections import mask_url, password_of, require_encoded_password, secrets_of
from project.errors import DatabaseError

# The characters people paste from password managers that a URL must have percent-encoded.
HOSTILE = "Pa@ss:wo/rd#50%zz"
MODEL = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"


@pytest.mark.parametrize(
    ("url", "masked", "secrets"),
    [
        ("postgresql://u:pa#ss/wd@host/db", "postgresql://u:***@host/db", ["pa#ss/wd"]),
        ("postgresql://u:p@ss@host:5432/db", "postgresql://u:***@host:5432/db", ["p@ss"]),
        ("mysql://u:p@s:s@host/db", "mysql://u:***@host/db", ["p@s:s"]),
        ("postgresql://u:50%zz@host/db", "postgresql://u:***@host/db", ["50%zz"]),
        ("postgresql://u:pa%40ss@h/d", "postgresql://u:***@h/d", ["pa%40ss", "pa@ss"]),
        ("postgresql://u:pw1@host/db?opt=a@b", "postgresql://u:***@host/db?opt=a@b", ["pw1"]),
        (
            "postgresql://u@h/d?password=abc%23d&sslpassword=xyz&passfile=/p/f&sslmode=require",
            "postgresql://u@h/d?password=***&sslpassword=***&passfile=***&sslmode=require",
            ["abc%23d", "abc#d", "xyz", "/p/f"],
        ),
        ("mysql://u@h/d?passwd=a&b&c=d", "mysql://u@h/d?passwd=***&c=d", ["a&b"]),
        ("sqlite:///a/b@c.db?password=s3cret", "sqlite:///a/b@c.db?password=***", ["s3cret"]),
        ("sqlite:////tmp/a:b@c/x.db", "sqlite:////tmp/a:b@c/x.db", []),
        ("postgres//app:s3cret@db/app", "postgres//app:***@db/app", ["s3cret"]),
    ],
)
def test_mask_url_and_secrets_of_every_form(url: str, masked: str, secrets: list[str]) -> None:
    assert mask_url(url) == masked
    assert secrets_of(url) == secrets
    for secret in secrets:
        assert secret not in mask_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pa#ss@host/db",
        "postgresql://u:pa/ss@host/db",
        "postgresql://u:p@ss@host/db",
        "postgresql://u:p@s:s@host/db",
        "postgresql://u:50%zz@host/db",
        "postgresql://u:a?b@host/db",
    ],
)
def test_unencoded_passwords_are_refused_before_parsing(url: str) -> None:
    with pytest.raises(DatabaseError) as raised:
        require_encoded_password(url)
    message = str(raised.value)
    assert "percent-encoded" in message and "\n" not in message
    for code in ("%40", "%3A", "%2F", "%23", "%25"):
        assert code in message
    assert password_of(url) not in message  # type: ignore[operator]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pa%23ss%2Fw%40d%3A%25@host/db",
        "postgresql://u:pa:ss@host/db",  # ':' in a password is fine
        "postgresql://u:pw@host/db?opt=a@b",
        "sqlite:////tmp/a:b@c/x.db",
        "mysql://root@db/app",
    ],
)
def test_encoded_passwords_pass(url: str) -> None:
    require_encoded_password(url)


def _run_every_command(project: Project, url: str, verbose: bool = True) -> list[Result]:
    """Each command once; `verbose`: Alembic's logs and a traceback on failure too."""
    env = {"DATABASE_URL": url}
    loud = ["-v", "3", "--traceback"] if verbose else []
    return [
        project.run(*command, env=env)
        for command in (
            ["check"],
            ["showmigrations"],
            ["migrate", *loud],
            ["makemigrations", *loud],
            ["makemigrations", "--check"],
            ["sqlmigrate", "pets", "0001"],
            ["inspectdb"],
            ["migrate", "pets", "zero", *loud],
        )
    ]


def _assert_hidden(project: Project, results: list[Result], *secrets: str) -> None:
    written = [
        path
        for path in project.path.rglob("*")
        if path.is_file() and path.suffix not in (".sqlite3", ".pyc")
    ]
    for secret in secrets:
        for result in results:
            assert secret not in result.stdout + result.stderr, str(result)
        for path in written:
            assert secret not in path.read_text(errors="replace"), path


def test_sqlite_query_string_password_is_hidden(sqlite_project: Project) -> None:
    secret = f"qs{uuid.uuid4().hex[:10]}"
    sqlite_project.append("apps/pets/models.py", MODEL)
    path = sqlite_project.file("db.sqlite3")
    url = f"sqlite:///{path}?password={secret}&sslpassword={secret}x"  # pysqlite ignores them
    results = _run_every_command(sqlite_project, url)
    assert results[2].returncode == results[3].returncode == 0, "\n".join(map(str, results))
    assert "pets_toy" in sqlite_project.file("apps/pets/migrations/0002_toy.py").read_text()
    _assert_hidden(sqlite_project, results, secret)


def _hostile_user(servers: Servers, backend: str, database: str) -> tuple[str, str]:
    """A user of the server whose password holds '@ : / # %': (name, password)."""
    server = servers.get(backend)
    name, password = f"u{uuid.uuid4().hex[:10]}", f"{HOSTILE}{uuid.uuid4().hex[:6]}"
    with server.engine.connect() as connection:
        if backend == "postgresql":
            connection.exec_driver_sql(
                f"CREATE ROLE {name} LOGIN CREATEDB PASSWORD '{password.replace('%', '%%')}'"
            )
            connection.exec_driver_sql(f"ALTER DATABASE {database} OWNER TO {name}")
        else:
            connection.exec_driver_sql(
                f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{password.replace('%', '%%')}'"
            )
            connection.exec_driver_sql(f"GRANT ALL PRIVILEGES ON *.* TO '{name}'@'127.0.0.1'")
    return name, password


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_server_passwords_in_every_form_are_hidden(
    make_project: Callable[[str], Project], database_servers: Servers, backend: str
) -> None:
    project = make_project(backend)
    project.append("apps/pets/models.py", MODEL)
    fixture_url = sa.engine.make_url(project.database_url)
    assert fixture_url.database and project.password
    name, password = _hostile_user(database_servers, backend, fixture_url.database)
    scheme, host = fixture_url.drivername, f"{fixture_url.host}:{fixture_url.port}"
    db = fixture_url.database

    # Percent-encoded, the hostile password works, in the user information or the query.
    encoded = f"{scheme}://{name}:{quote(password, safe='')}@{host}/{db}"
    results = _run_every_command(project, encoded)
    assert all(r.returncode == 0 for r in results[1:]), "\n".join(map(str, results))  # check: 1
    assert "pets_toy" not in project.tables()  # migrated, then back to zero
    in_query = f"{scheme}://{name}@{host}/{db}?password={quote(password, safe='')}"
    results.append(project.run("migrate", env={"DATABASE_URL": in_query}))
    assert results[-1].returncode == 0, str(results[-1])
    assert "pets_toy" in project.tables()

    # Un-encoded, it is a one-line error saying what to do, for every command.
    for url in (
        f"{scheme}://{name}:{password}@{host}/{db}",
        f"{scheme}://{fixture_url.username}:{project.password}#x/y@{host}/{db}",
        f"{scheme}://{fixture_url.username}:{project.password}@x:1@{host}/{db}",
        f"{scheme}://{fixture_url.username}:{project.password}@{host}@{host}/{db}",
    ):
        if url.startswith(f"{scheme}://{name}:"):
            results += _run_every_command(project, url)  # tracebacks included
        for result in _run_every_command(project, url, verbose=False)[1:4]:
            assert_error(result, "must be percent-encoded", "%40", "%3A", "%2F", "%23", "%25")
            results.append(result)
    _assert_hidden(project, results, password, quote(password, safe=""), project.password)


def test_an_env_line_that_does_not_parse_is_not_echoed(sqlite_project: Project) -> None:
    secret = f"env{uuid.uuid4().hex[:10]}"
    sqlite_project.file(".env").write_text(f'X=1\nDATABASE_URL="postgresql://u:{secret}"x@h/db\'\n')
    result = sqlite_project.run("showmigrations")
    assert_error(result, "Line 2 of", "cannot be parsed", "not shown")
    assert secret not in result.stdout + result.stderr
    assert not Path(sqlite_project.file("db.sqlite3")).exists()  # no fallback to the default
