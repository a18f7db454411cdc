"""The benchmark keeps working: its quick mode runs and prints its table (times are not checked)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_quick_benchmark_prints_its_table() -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert (
        "| work | tables | database | ours | Alembic | Django | floor | ours/Alembic | ours/Django |"
        in lines
    )
    for work in (
        "apply from empty",
        "no-op migrate",
        "list status",
        "no-op check",
        "model change: check",
        "model change: write",
    ):
        assert any(line.startswith(f"| {work} | 10 | sqlite |") for line in lines), completed.stdout
    # A check that cannot use its cached answer does `alembic check`'s work: both are timed.
    compare = next(line for line in lines if line.startswith("| check: compare (state cached) |"))
    float(compare.split(" | ")[7])  # the ours/Alembic ratio is a number
