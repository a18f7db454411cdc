"""Benchmark our commands against plain Alembic and Django doing the same work.

    python bench/run.py --quick            # 10 tables on SQLite, one run: a minute
    python bench/run.py                    # 10, 100, 500 tables on SQLite and PostgreSQL,
                                           # 1000 on PostgreSQL, and a 200-migration history

Install the peers first: pip install -e '.[bench]'. PostgreSQL is started as the tests do
(tests/servers.py: Debian's package, or TEST_POSTGRESQL_URL). Each figure is the median
of --runs whole-process runs (min-max beside it), with bytecode caching on, as users have
it. The floor is measured in the same run: the bare interpreter, importing SQLAlchemy and
Alembic (or Typer, for --help), and the DDL alone (Alembic's offline SQL, executed by the
driver in one transaction).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests")]

from generate import generate
from peers import alembic_project, django_project

PYTHON = sys.executable


@dataclass
class Timing:
    times: list[float]
    over: float | None = None  # the time limit, when a run exceeded it

    def __str__(self) -> str:
        if self.over is not None:
            return f"over {self.over:g} s"
        if not self.times:
            return "-"
        median = statistics.median(self.times)
        if len(self.times) == 1:
            return f"{median:.2f}"
        return f"{median:.2f} ({min(self.times):.2f}-{max(self.times):.2f})"

    @property
    def median(self) -> float | None:
        return None if self.over is not None or not self.times else statistics.median(self.times)


class Database:
    """Fresh databases of one kind, and how each tool is told to use one."""

    def __init__(self, kind: str, work: Path, server: object | None = None) -> None:
        self.kind, self.work, self.server = kind, work, server
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        if self.kind == "sqlite":
            path = self.work / f"db{self.count}.sqlite3"
            path.unlink(missing_ok=True)
            return f"sqlite:///{path}"
        url: str = self.server.create_database(f"bench{self.count}")  # type: ignore[attr-defined]
        return url

    def env(self, url: str) -> dict[str, str]:
        """Environment variables that point ours, Alembic and Django at `url`."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        env = {**os.environ, "DATABASE_URL": url.replace("+psycopg", ""), "DB_URL": url}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if self.kind == "sqlite":
            env["DJANGO_SQLITE"] = parsed.database or ""
        else:
            env.update(
                DJANGO_DB_NAME=parsed.database or "",
                DJANGO_DB_USER=parsed.username or "",
                DJANGO_DB_PASSWORD=str(parsed.password or ""),
                DJANGO_DB_HOST=parsed.host or "",
                DJANGO_DB_PORT=str(parsed.port or ""),
            )
        return env


class Bench:
    def __init__(self, runs: int, limit: float) -> None:
        self.runs, self.limit = runs, limit
        self.default_runs = runs
        self.rows: list[tuple[str, ...]] = []

    def time(
        self,
        command: list[str],
        cwd: Path,
        env: dict[str, str],
        before: Callable[[], dict[str, str]] | None = None,
    ) -> Timing:
        times = []
        for _ in range(self.runs):
            run_env = before() if before else env
            started = time.perf_counter()
            try:
                subprocess.run(
                    command,
                    cwd=cwd,
                    env=run_env,
                    check=True,
                    capture_output=True,
                    timeout=self.limit,
                )
            except subprocess.TimeoutExpired:
                return Timing([], over=self.limit)
            times.append(time.perf_counter() - started)
        return Timing(times)

    def row(
        self,
        work: str,
        size: str,
        database: str,
        ours: Timing,
        alembic: Timing,
        django: Timing,
        floor: str,
    ) -> None:
        cells = (
            work,
            size,
            database,
            str(ours),
            str(alembic),
            str(django),
            floor,
            _ratio(ours, alembic),
            _ratio(ours, django),
        )
        self.rows.append(cells)
        print("| " + " | ".join(cells) + " |", flush=True)


def _ratio(ours: Timing, other: Timing) -> str:
    if ours.median is None:
        return "-"
    if other.over is not None:
        return f"< {ours.median / other.over:.3f}"
    if other.median is None:
        return "-"
    return f"{ours.median / other.median:.2f}"


def measure(bench: Bench, work: Path, tables: int, database: Database, history: int = 1) -> None:
    bench.runs = (
        min(bench.default_runs, 3) if tables >= 500 else bench.default_runs
    )  # minutes per run
    apps = 1 if history > 1 else max(1, tables // 10)
    label = f"{tables}" if history == 1 else f"{tables} ({history} migrations)"
    folder = work / f"{database.kind}-{tables}-{history}"
    ours = generate(folder / "ours", tables, apps, history)
    alembic = alembic_project(folder / "alembic", tables, apps, history, url=database.fresh())
    django = django_project(folder / "django", tables, apps, history)
    manage = [PYTHON, "manage.py"]
    alembic_cli = [PYTHON, "-m", "alembic"]

    def fresh_env() -> dict[str, str]:
        return database.env(database.fresh())

    # Applying everything to an empty database (a fresh one for every run).
    floor = _ddl_floor(bench, alembic, database)
    bench.row(
        "apply from empty",
        label,
        database.kind,
        bench.time(manage + ["migrate", "-v", "0"], ours, {}, fresh_env),
        bench.time(alembic_cli + ["upgrade", "heads"], alembic, {}, fresh_env),
        bench.time([PYTHON, "manage.py", "migrate", "-v", "0"], django, {}, fresh_env),
        f"{floor} (DDL)",
    )
    envs = {}
    for tool, path, command in (
        ("ours", ours, manage + ["migrate", "-v", "0"]),
        ("alembic", alembic, alembic_cli + ["upgrade", "heads"]),
        ("django", django, [PYTHON, "manage.py", "migrate", "-v", "0"]),
    ):
        envs[tool] = fresh_env()
        subprocess.run(
            command, cwd=path, env=envs[tool], check=True, capture_output=True, timeout=3600
        )
    imports = str(bench.time([PYTHON, "-c", "import sqlalchemy, alembic"], REPO, envs["ours"]))
    work_items = [
        (
            "no-op migrate",
            manage + ["migrate"],
            alembic_cli + ["upgrade", "heads"],
            [PYTHON, "manage.py", "migrate"],
        ),
        (
            "list status",
            manage + ["showmigrations"],
            alembic_cli + ["current"],
            [PYTHON, "manage.py", "showmigrations"],
        ),
        (
            "no-op check",
            manage + ["makemigrations", "--check"],
            alembic_cli + ["check"],
            [PYTHON, "manage.py", "makemigrations", "--check", "--dry-run"],
        ),
    ]
    alembic_times = {}
    for name, ours_command, alembic_command, django_command in work_items:
        # A warm-up, which fills the caches.
        subprocess.run(ours_command, check=False, cwd=ours, env=envs["ours"], capture_output=True)
        alembic_times[name] = bench.time(alembic_command, alembic, envs["alembic"])
        bench.row(
            name,
            label,
            database.kind,
            bench.time(ours_command, ours, envs["ours"]),
            alembic_times[name],
            bench.time(django_command, django, envs["django"]),
            f"{imports} (imports)",
        )
    # A check whose cached answer cannot be used (the models changed) compares the models
    # with the cached history state: the work `alembic check` does every time. Replaying
    # the history as well (--no-cache) is work Alembic has no counterpart for.
    check = manage + ["makemigrations", "--check"]
    none = Timing([])
    for name, extra, alembic_time in (
        ("check: compare (state cached)", [], alembic_times["no-op check"]),
        ("check: replay + compare", ["--no-cache"], none),
    ):

        def forget_answer() -> dict[str, str]:
            for marker in (ours / ".manage_cache").glob("nochanges-*"):
                marker.unlink()
            return envs["ours"]

        bench.row(
            name,
            label,
            database.kind,
            bench.time(check + extra, ours, {}, forget_answer),
            alembic_time,
            none,
            f"{imports} (imports)",
        )


def _ddl_floor(bench: Bench, alembic: Path, database: Database) -> str:
    """The DDL of the whole schema (Alembic's offline SQL), executed in one transaction."""
    url = database.fresh()
    sql = subprocess.run(
        [PYTHON, "-m", "alembic", "upgrade", "heads", "--sql"],
        cwd=alembic,
        env={**database.env(url), "DB_URL": url},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    script = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [
        s.strip()
        for s in script.split(";\n")
        if s.strip() and not s.strip().startswith(("BEGIN", "COMMIT"))
    ]
    times = []
    for _ in range(bench.runs):
        import sqlalchemy as sa

        engine = sa.create_engine(database.fresh(), poolclass=sa.pool.NullPool)
        if database.kind == "sqlite":  # pysqlite commits each DDL statement on its own
            sa.event.listen(
                engine, "connect", lambda dbapi, _: setattr(dbapi, "isolation_level", None)
            )
            sa.event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN"))
        started = time.perf_counter()
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
        times.append(time.perf_counter() - started)
        engine.dispose()
    return str(Timing(times))


def floors(bench: Bench) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print(f"# python -c pass: {bench.time([PYTHON, '-c', 'pass'], REPO, env)} s")
    print(f"# python -c 'import typer': {bench.time([PYTHON, '-c', 'import typer'], REPO, env)} s")
    print(
        f"# python -c 'import sqlalchemy, alembic': {bench.time([PYTHON, '-c', 'import sqlalchemy, alembic'], REPO, env)} s"
    )
    help_project = generate(Path(tempfile.mkdtemp()) / "help", 10, 1, 1)
    help_env = {**env, "MANAGE_SETTINGS_MODULE": "settings"}
    print(
        f"# manage.py --help: {bench.time([PYTHON, 'manage.py', '--help'], help_project, help_env)} s"
    )
    print(
        f"# manage.py migrate --help: {bench.time([PYTHON, 'manage.py', 'migrate', '--help'], help_project, help_env)} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 tables on SQLite, one run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="10,100,500", help="table counts, on every database")
    parser.add_argument(
        "--postgresql-sizes", default="1000", help="more table counts, on PostgreSQL only"
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--history", type=int, default=200, help="migrations in one app (0: skip)")
    parser.add_argument(
        "--limit", type=float, default=300, help="seconds a run may take (Django's migrate)"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.sizes, args.postgresql_sizes, args.databases, args.history = (
            1,
            "10",
            "",
            "sqlite",
            0,
        )
    bench = Bench(args.runs, args.limit)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    work.chmod(0o711)
    import platform

    print(
        f"# {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, {_versions()}"
    )
    floors(bench)
    print(
        "| work | tables | database | ours | Alembic | Django | floor | ours/Alembic | ours/Django |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    server = None
    try:
        databases = []
        for kind in args.databases.split(","):
            if kind == "postgresql":
                import servers

                server = servers.postgresql(work / "pg")
            databases.append(Database(kind, work, server))
        for database in databases:
            sizes = [int(n) for n in args.sizes.split(",") if n]
            if database.kind == "postgresql":
                sizes += [int(n) for n in args.postgresql_sizes.split(",") if n]
            for tables in sizes:
                measure(bench, work, tables, database)
            if args.history:
                measure(bench, work, args.history, database, history=args.history)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
        shutil.rmtree(work, ignore_errors=True)


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in ("sqlalchemy", "alembic", "django", "typer"))


if __name__ == "__main__":
    main()
