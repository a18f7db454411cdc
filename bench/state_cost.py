"""What makemigrations --check costs when it compares with the migration history.

    python bench/state_cost.py [--runs 5] [--tables 200] [--no-postgresql]

For the example apps and for a generated schema of N tables (bench/generate.py), on SQLite
and PostgreSQL (started from Debian's packages as the tests do, or TEST_POSTGRESQL_URL),
it times `makemigrations --check` three ways, as whole processes: against the live
database (--from-db, the database migrated), against the history replayed anew
(--no-cache), and against the cached history state. Medians, with min and max.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

WAYS = {
    "live database (--from-db)": ["--from-db"],
    "history, replayed (--no-cache)": ["--no-cache"],
    "history, cached": [],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-state-"))
    work.chmod(0o711)
    projects = {
        "example apps": _example(work / "example"),
        f"{args.tables} tables": _generated(work, args.tables),
    }
    databases = {"sqlite": lambda name: f"sqlite:///{work / name}.sqlite3"}
    server = None
    if not args.no_postgresql:
        import servers

        server = servers.postgresql(work / "pg")
        databases["postgresql"] = lambda name: server.create_database(name).replace("+psycopg", "")
    print(f"# makemigrations --check, whole process, seconds (median of {args.runs}; min-max)")
    print(
        f"# python {sys.version.split()[0]}, PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')}"
    )
    print("| project | database | " + " | ".join(WAYS) + " | replay alone |")
    print("|---|---|" + "---|" * (len(WAYS) + 1))
    try:
        for project_name, path in projects.items():
            for database, url_for in databases.items():
                url = url_for(f"b_{abs(hash((project_name, database))) % 10**8}")
                env = {**os.environ, "MANAGE_SETTINGS_MODULE": "settings", "DATABASE_URL": url}
                _run(path, env, "migrate", "-v", "0")
                cells, medians = [], []
                for extra in WAYS.values():
                    _run(
                        path, env, "makemigrations", "--check", *extra
                    )  # warm-up (and fills the cache)
                    times = [
                        _timed(path, env, "makemigrations", "--check", *extra)
                        for _ in range(args.runs)
                    ]
                    medians.append(statistics.median(times))
                    cells.append(f"{medians[-1]:.2f} ({min(times):.2f}-{max(times):.2f})")
                cells.append(f"{medians[1] - medians[2]:.2f}")
                print(f"| {project_name} | {database} | " + " | ".join(cells) + " |", flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _example(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("manage.py", "settings.py"):
        shutil.copy(REPO / name, dest)
    for name in ("apps", "migrations"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _generated(work: Path, tables: int) -> Path:
    from generate import generate

    return generate(work / f"tables{tables}", tables, max(1, tables // 10), 1)


def _run(path: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=path, env=env, check=True, capture_output=True
    )


def _timed(path: Path, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    _run(path, env, *args)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
