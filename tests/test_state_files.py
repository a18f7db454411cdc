"""The SQLite scratch state's files in `.manage_cache/`: shared with the folder's other
users, and never removed from under a run that uses them (review findings 6 and 10)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import Project, write_migration

from project.engine import scratch as state


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_cache_entries_are_readable_by_whoever_shares_the_folder(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations", "--check", check=True)
    (entry,) = sqlite_project.file(".manage_cache").glob("state-*.sqlite3")
    assert entry.stat().st_mode & 0o777 == state.shared_mode(_umask())
    assert state.shared_mode(0o022) == 0o644 and state.shared_mode(0o002) == 0o664


def test_an_unreadable_cache_entry_is_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's entry they may not read: rebuild, don't crash."""

    def refused(source: Any, target: Any) -> None:
        raise PermissionError(13, "Permission denied", str(source))

    monkeypatch.setattr(shutil, "copyfile", refused)
    nothing = cast(Any, None)  # not reached: the copy fails first
    cached, work = tmp_path / "state-x.sqlite3", tmp_path / "work-x.sqlite3"
    assert not state._copy_if_complete(nothing, cached, work, nothing, ("heads",))


def test_flushstate_leaves_the_files_of_a_run_going_on(sqlite_project: Project) -> None:
    project = sqlite_project
    started = project.path / "started"
    write_migration(
        project,
        "pets",
        "0002_slow",
        "pets_0001_initial",
        'if os.environ.get("STARTED"):\n    Path(os.environ["STARTED"]).touch()\n    time.sleep(4)',
    )
    slow = subprocess.Popen(
        [sys.executable, "manage.py", "makemigrations", "--check"],
        cwd=project.path,
        env={**project.env, "STARTED": str(started)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not started.exists() and slow.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists(), slow.communicate()
    cache = project.file(".manage_cache")
    busy = sorted(p.name for p in cache.iterdir() if p.name.startswith("work-"))
    assert busy, "the replay's work file"
    project.run("flushstate", check=True)
    assert all((cache / name).exists() for name in busy)  # the run was still at it
    stdout, stderr = slow.communicate(timeout=120)
    assert (slow.returncode, stdout, stderr) == (0, "No changes detected\n", "")
    # with nobody using it, a leftover goes (a killed run's)
    leftover = cache / "work-leftover.sqlite3"
    leftover.write_bytes(b"")
    project.run("flushstate", check=True)
    assert not leftover.exists()


def test_a_lock_file_that_cannot_be_made_means_no_lock(tmp_path: Path) -> None:
    """Review finding 9: a read-only checkout (here: the folder is a file) goes on unlocked."""
    from project.engine.locking import file_lock

    (tmp_path / ".manage_cache").write_text("")
    never = cast(Any, None)
    with file_lock(tmp_path / ".manage_cache" / "makemigrations.lock", 1.0, never) as locked:
        assert locked is False
    with file_lock(tmp_path / "cache" / "makemigrations.lock", 1.0, never) as locked:
        assert locked is True
