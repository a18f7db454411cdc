"""Real PostgreSQL 15 and MariaDB 10.11 servers for the test suite.

Each is installed from Debian's packages when missing (as root, with apt), started on
127.0.0.1 on a free port with its data in a temporary folder, and stopped at the end.
To use servers of your own instead, set TEST_POSTGRESQL_URL / TEST_MARIADB_URL to an
admin URL (a user allowed to create databases); each test gets a fresh database there.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PG_BIN = Path("/usr/lib/postgresql/15/bin")
MARIADB_SERVER = Path("/usr/sbin/mariadbd")
START_TIMEOUT = 60


class ServerError(RuntimeError):
    pass


class Server:
    """A server the tests may create and drop databases on."""

    backend = ""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = sa.engine.make_url(admin_url)
        self.engine = sa.create_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )

    @property
    def password(self) -> str | None:
        return self.admin_url.password  # type: ignore[return-value]

    def create_database(self, name: str) -> str:
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql(self._drop_statement(name))

    def _drop_statement(self, name: str) -> str:
        return f"DROP DATABASE IF EXISTS {name}"

    def stop(self) -> None:
        self.engine.dispose()


class PostgreSQL(Server):
    backend = "postgresql"

    def __init__(self, admin_url: str, data_dir: Path | None = None) -> None:
        super().__init__(admin_url)
        self.data_dir = data_dir

    def _drop_statement(self, name: str) -> str:
        return f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"

    def stop(self) -> None:
        super().stop()
        if self.data_dir is not None:
            _run_as(
                "postgres",
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"],
            )


class MariaDB(Server):
    backend = "mariadb"

    def __init__(self, admin_url: str, process: subprocess.Popen[bytes] | None = None) -> None:
        super().__init__(admin_url)
        self.process = process

    def stop(self) -> None:
        super().stop()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def postgresql(workdir: Path) -> PostgreSQL:
    if url := os.environ.get("TEST_POSTGRESQL_URL"):
        return PostgreSQL(url)
    _install_if_missing(PG_BIN / "initdb", "postgresql-15")
    workdir.mkdir(parents=True)
    data = workdir / "data"
    password = secrets.token_hex(12)
    password_file = workdir / "password"
    password_file.write_text(password + "\n")
    _give_to("postgres", workdir, password_file)
    _run_as(
        "postgres",
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={password_file}",
        ],
    )
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _run_as(
        "postgres",
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(workdir / "log"),
            "-o",
            options,
            "-w",
            "start",
        ],
    )
    return PostgreSQL(f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}/postgres", data)


def mariadb(workdir: Path) -> MariaDB:
    if url := os.environ.get("TEST_MARIADB_URL"):
        return MariaDB(url)
    _install_if_missing(MARIADB_SERVER, "mariadb-server")
    workdir.mkdir(parents=True)
    data = workdir / "data"
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    _give_to("mysql", workdir)
    subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            *user,
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
    )
    port, socket_path = _free_port(), workdir / "mysqld.sock"
    process = subprocess.Popen(
        [
            str(MARIADB_SERVER),
            "--no-defaults",
            *user,
            f"--datadir={data}",
            "--bind-address=127.0.0.1",
            f"--port={port}",
            f"--socket={socket_path}",
            f"--pid-file={workdir / 'mysqld.pid'}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=64M",
            "--max-connections=200",
            f"--log-error={workdir / 'error.log'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = sa.create_engine(
        f"mysql+pymysql://root@localhost/?unix_socket={socket_path}", poolclass=sa.pool.NullPool
    )
    _wait_for(root, process)
    password = secrets.token_hex(12)
    with root.begin() as connection:
        connection.exec_driver_sql(f"CREATE USER 'tester'@'127.0.0.1' IDENTIFIED BY '{password}'")
        connection.exec_driver_sql(
            "GRANT ALL PRIVILEGES ON *.* TO 'tester'@'127.0.0.1' WITH GRANT OPTION"
        )
    root.dispose()
    return MariaDB(f"mysql+pymysql://tester:{password}@127.0.0.1:{port}/mysql", process)


def _install_if_missing(binary: Path, package: str) -> None:
    if binary.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServerError(
            f"{binary} is missing: install the Debian package {package}, or point the tests at a server"
        )
    import fcntl

    # pytest-xdist's workers start their servers at once: one apt at a time (dpkg's lock).
    with open(Path(tempfile.gettempdir()) / "manage-test-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():  # another worker installed it meanwhile
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
        if subprocess.run(install, check=False, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
            subprocess.run(install, env=env, check=True, capture_output=True)


def _give_to(user: str, *paths: Path) -> None:
    if os.geteuid() == 0:
        for path in paths:
            shutil.chown(path, user, user)


def _run_as(user: str, command: list[str]) -> None:
    prefix = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    result = subprocess.run(prefix + command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServerError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(engine: sa.Engine, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with engine.connect():
                return
        except sa.exc.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServerError("MariaDB did not start; see error.log in its folder") from None
            time.sleep(0.2)
