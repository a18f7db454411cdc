"""Formatting generated Python with ruff, so it reads like the rest of the code.

Ruff is a dependency, but a missing one (a trimmed install) only costs the formatting.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path


def format_files(paths: list[Path]) -> None:
    """Format new files in place (migrations): ruff's own config, found from their folder."""
    if paths and _have_ruff():
        subprocess.run([*_ruff_command(), "format", "--quiet", *map(str, paths)], check=False)


def format_source(source: str, as_file: Path, sort_imports: bool = False) -> str:
    """The source formatted as if it were the file `as_file` (whose config ruff reads),
    with `sort_imports` its imports sorted too (ruff's isort rules, as `ruff check` wants);
    unchanged by a step ruff cannot do."""
    if not _have_ruff():
        return source
    if sort_imports:
        source = _ruff(source, "check", "--select", "I", "--fix", "--stdin-filename", str(as_file))
    return _ruff(source, "format", "--stdin-filename", str(as_file))


def _ruff(source: str, *args: str) -> str:
    completed = subprocess.run(
        [*_ruff_command(), *args, "--quiet", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout if completed.returncode == 0 and completed.stdout else source


def _ruff_command() -> list[str]:
    """Ruff's binary itself: `python -m ruff` starts an interpreter only to exec it."""
    try:
        from ruff import find_ruff_bin  # type: ignore[import-untyped]

        return [str(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        return [sys.executable, "-m", "ruff"]


def _have_ruff() -> bool:
    return importlib.util.find_spec("ruff") is not None
