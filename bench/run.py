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
from concurrent.futures import ThreadPoolExecutor
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
            elapsed = self.once(command, cwd, before() if before else env)
            if elapsed is None:
                return Timing([], over=self.limit)
            times.append(elapsed)
        return Timing(times)

    def once(
        self, command: list[str], cwd: Path, env: dict[str, str], codes: tuple[int, ...] = (0,)
    ) -> float | None:
        """Seconds one whole-process run takes (None: over the limit); an exit status not in
        `codes` stops the benchmark, so a failing command is never timed as if it worked."""
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                check=False,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.limit,
            )
        except subprocess.TimeoutExpired:
            return None
        elapsed = time.perf_counter() - started
        if done.returncode not in codes:
            raise SystemExit(
                f"{' '.join(command)} in {cwd}: exit status {done.returncode}\n"
                f"{done.stdout}{done.stderr}"
            )
        return elapsed

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
    """The ratio of the medians and, with several runs, the worst any two runs give (our
    slowest over their fastest): "3x faster in every run" is a worst ratio under 0.33."""
    if ours.median is None:
        return "-"
    if other.over is not None:
        return f"< {max(ours.times) / other.over:.3f}"
    if other.median is None:
        return "-"
    ratio = f"{ours.median / other.median:.2f}"
    if len(ours.times) > 1 and len(other.times) > 1:
        ratio += f" (max {max(ours.times) / min(other.times):.2f})"
    return ratio


def measure(bench: Bench, work: Path, tables: int, database: Database, history: int = 1) -> None:
    bench.runs = (
        min(bench.default_runs, 3) if tables >= 500 else bench.default_runs
    )  # minutes per run
    apps = 1 if history > 1 else max(1, tables // 10)
    label = f"{tables}" if history == 1 else f"{tables} ({history} migrations)"
    folder = work / f"{database.kind}-{tables}-{history}"
    started = time.perf_counter()
    shape, alembic_url = (tables, apps, history), database.fresh()
    # Set-up is not measured: the three projects are made at once (each maker works in
    # subprocesses, in a folder of its own), which shares the cores among them.
    with ThreadPoolExecutor(3) as pool:
        made = (
            pool.submit(_made_once, folder / "ours", shape, generate),
            pool.submit(alembic_project, folder / "alembic", *shape, url=alembic_url),
            pool.submit(_made_once, folder / "django", shape, django_project),
        )
        ours, alembic, django = (future.result() for future in made)
    manage = [PYTHON, "manage.py"]
    alembic_cli = [PYTHON, "-m", "alembic"]
    _progress(f"{label} tables, {database.kind}: projects made", started)

    def fresh_env() -> dict[str, str]:
        return database.env(database.fresh())

    # Applying everything to an empty database (a fresh one for every run).
    floor = _ddl_floor(bench, alembic, database)
    ours_apply = bench.time(manage + ["migrate", "-v", "0"], ours, {}, fresh_env)
    alembic_apply = bench.time(alembic_cli + ["upgrade", "heads"], alembic, {}, fresh_env)
    runs, bench.runs = bench.runs, 1 if tables >= 500 else bench.runs  # Django's: 35 s and up
    django_apply = bench.time([PYTHON, "manage.py", "migrate", "-v", "0"], django, {}, fresh_env)
    bench.runs = runs
    bench.row(
        "apply from empty",
        label,
        database.kind,
        ours_apply,
        alembic_apply,
        django_apply,
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
    # A check that compares every app (no record of the last comparison: a first run, or a
    # fallback, project.autogen.scope) with the cached history state: the work `alembic
    # check` does every time. Replaying the history as well (--no-cache) is work Alembic
    # has no counterpart for.
    check = manage + ["makemigrations", "--check"]
    none = Timing([])
    for name, extra, alembic_time in (
        ("check: compare (state cached)", [], alembic_times["no-op check"]),
        ("check: replay + compare", ["--no-cache"], none),
    ):

        def forget_answer() -> dict[str, str]:
            for marker in (ours / ".manage_cache").glob("nochanges-*"):
                marker.unlink()
            (ours / ".manage_cache" / "compared.json").unlink(missing_ok=True)
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
    if history == 1:
        _progress(f"{label} tables, {database.kind}: rows before the model change", started)
        _model_change(bench, label, database.kind, (ours, alembic, django), envs, imports, apps)
    _progress(f"{label} tables, {database.kind}: all rows", started)


_MADE: dict[tuple[object, ...], Path] = {}


def _made_once(
    dest: Path, shape: tuple[int, int, int], make: Callable[[Path, int, int, int], Path]
) -> Path:
    """A copy of our project or Django's for `shape` (tables, apps, migrations), made once
    and copied, as it was made, for each database: neither depends on the database (ours
    and Django's makemigrations compare with the migration history), and making the
    200-migration history is minutes of makemigrations runs. Alembic's project is made
    anew for each database: it is autogenerated against a database of the kind it runs on."""
    key = (make, *shape)
    if key not in _MADE:
        _MADE[key] = make(
            dest.parent.parent / "made" / f"{dest.name}-{'-'.join(map(str, shape))}", *shape
        )
    # Ruff's cache is keyed by the folder: a copy of it would be dead weight.
    shutil.copytree(_MADE[key], dest, symlinks=True, ignore=shutil.ignore_patterns(".ruff_cache"))
    return dest


def _progress(what: str, started: float) -> None:
    """How long the benchmark has taken so far, on stderr (the table is on stdout)."""
    print(f"# {what} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


@dataclass
class ModelChange:
    """One model of one app edited the same way in one tool's project (a new nullable
    column), and undone: the model file restored, the migration it wrote deleted."""

    project: Path
    models: Path  # the file that holds the model
    anchor: str  # the line the new column goes after
    column: str  # the new column's line, {name} its name
    original: bytes = b""
    before: frozenset[Path] = frozenset()

    def edit(self, name: str) -> None:
        self.original = self.models.read_bytes()
        self.before = _files(self.project)
        text = self.original.decode()
        assert text.count(self.anchor) == 1, self.anchor
        self.models.write_text(
            text.replace(self.anchor, self.anchor + self.column.format(name=name))
        )

    def written(self) -> list[Path]:
        return sorted(_files(self.project) - self.before)

    def undo(self) -> None:
        for path in self.written():
            path.unlink()
            for compiled in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
                compiled.unlink()
        self.models.write_bytes(self.original)


def _files(project: Path) -> frozenset[Path]:
    """The project's files but its caches (bytecode, .manage_cache, and .ruff_cache: our
    makemigrations formats the file it writes with Ruff)."""
    return frozenset(
        path
        for path in project.rglob("*")
        if path.is_file() and not {"__pycache__", ".manage_cache", ".ruff_cache"} & set(path.parts)
    )


def _model_change(
    bench: Bench,
    label: str,
    kind: str,
    projects: tuple[Path, Path, Path],
    envs: dict[str, str],
    imports: str,
    apps: int,
) -> None:
    """A new nullable column in one model of one app (the middle app, its first model: the
    same in the three projects), as a developer's loop has it: edit the model, check, write
    the migration. Each run makes a new edit (the column's name counts the runs, so no
    cache can know it from an earlier run), times the check, then makemigrations (after
    that check, as in the loop), then deletes the file written and restores the model.
    Before each run ours checks the unchanged project with its no-change answer forgotten,
    so its caches are as the developer's last check left them: warm for the unchanged
    models and the current migrations, whatever makemigrations did to them."""
    ours, alembic, django = projects
    app = apps // 2
    n = app  # an app's first table: generate.py gives app i tables i, i + apps, ...
    column = "    {name}: Mapped[str | None] = mapped_column(String(30))\n"
    manage = [PYTHON, "manage.py"]
    tools = {
        "ours": (
            ModelChange(
                ours,
                ours / "apps" / f"app{app:03d}" / "models.py",
                f"class Item{n}(Model):\n",
                column,
            ),
            manage + ["makemigrations", "--check"],
            1,
            manage + ["makemigrations"],
        ),
        "alembic": (
            ModelChange(alembic, alembic / "models.py", f'    __tablename__ = "item{n}"\n', column),
            [PYTHON, "-m", "alembic", "check"],
            255,  # Alembic's CLI exits 255 on a failed command
            [PYTHON, "-m", "alembic", "revision", "--autogenerate", "-m", "change"],
        ),
        "django": (
            ModelChange(
                django,
                django / f"app{app:03d}" / "models.py",
                f"class Item{n}(models.Model):\n",
                "    {name} = models.CharField(max_length=30, null=True)\n",
            ),
            manage + ["makemigrations", "--check", "--dry-run"],
            1,
            manage + ["makemigrations"],
        ),
    }

    def warm_up() -> None:
        for marker in (ours / ".manage_cache").glob("nochanges-*"):
            marker.unlink()
        bench.once(manage + ["makemigrations", "--check"], ours, envs["ours"])

    checks, writes = {}, {}
    for tool, (change, check, found, write) in tools.items():
        checks[tool], writes[tool] = _edit_loop(
            bench, change, (check, found), write, envs[tool], warm_up if tool == "ours" else None
        )
    for name, timings in (("model change: check", checks), ("model change: write", writes)):
        bench.row(
            name,
            label,
            kind,
            timings["ours"],
            timings["alembic"],
            timings["django"],
            f"{imports} (imports)",
        )


def _edit_loop(
    bench: Bench,
    change: ModelChange,
    check: tuple[list[str], int],
    write: list[str],
    env: dict[str, str],
    warm_up: Callable[[], None] | None,
) -> tuple[Timing, Timing]:
    """The check (which must find the change: its exit status, nothing written) and the
    migration written (exactly one new file), timed once per run on a new edit."""
    checked: list[float] = []
    wrote: list[float] = []
    for run in range(1, bench.runs + 1):
        if warm_up:
            warm_up()
        change.edit(f"extra_{run}")
        try:
            elapsed = bench.once(check[0], change.project, env, codes=(check[1],))
            if elapsed is None:
                return Timing([], over=bench.limit), Timing(wrote)
            assert not change.written(), change.written()
            checked.append(elapsed)
            elapsed = bench.once(write, change.project, env)
            if elapsed is None:
                return Timing(checked), Timing([], over=bench.limit)
            assert len(change.written()) == 1, change.written()
            wrote.append(elapsed)
        finally:
            change.undo()
    return Timing(checked), Timing(wrote)


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
