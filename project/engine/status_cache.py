"""The migration history as the last full load saw it, kept on disk for the status commands.

`showmigrations`, `migrate --check` and a `migrate` with nothing to do need only the graph
(revisions, parents, dependencies, apps, names, paths); reading it again costs importing
Alembic and every migration file (0.3-1 s). Every full load of the history writes it to
`.manage_cache/status.json` (project.engine.workspace), stamped with a key of everything
that shapes it: the installed apps and their migration folders, every file of the apps
(name, size, modification time: migration files may import the models), and the code
that reads them (ours, Alembic's).
A reader whose key differs gets None and loads the history the full way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from project.engine.history import History, Migration

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from project.apps import AppConfig

CACHE_FOLDER = ".manage_cache"  # project.engine.scratch's
CACHE_FILE = "status.json"
FORMAT = 1  # bump when what is written changes
# Our modules whose code decides what a loaded history holds: a new version is a new key.
_OWN_CODE = ("history.py", "squash_view.py", "status_cache.py", "workspace.py")


def cache_path(base_dir: Path) -> Path:
    return base_dir / CACHE_FOLDER / CACHE_FILE


def files_key(apps: Sequence[AppConfig]) -> str:
    """What the history read from disk depends on, as one digest; it costs a stat per file."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    for stamp in _code_stamps():
        digest.update(f"code {stamp}\n".encode())
    for app in apps:
        digest.update(f"app {app.name}|{app.label}|{app.migrations_dir}\n".encode())
        for entry in _entries(app):
            digest.update(f"file {entry}\n".encode())
    return digest.hexdigest()[:32]


def _code_stamps() -> list[str]:
    here = Path(__file__).resolve().parent
    paths = [here / name for name in _OWN_CODE]
    spec = importlib.util.find_spec("alembic")  # finding a package does not import it
    if spec is not None and spec.origin:
        paths.append(Path(spec.origin))
    return [_stamp(path) for path in paths]


def _entries(app: AppConfig) -> list[str]:
    """Every file of the app's package, its migrations folder's among them: Alembic reads
    the *.py files there, and they may import the app's other modules (the models that
    define a column type), whose failure to import the full path would report."""
    found = [] if app.migrations_dir.is_dir() else [f"{app.migrations_dir}|(missing)"]
    for folder, subfolders, files in os.walk(app.path):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        found += [_stamp(Path(folder, name)) for name in sorted(files)]
    return found


def _stamp(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return f"{path}|(missing)"
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def dump(history: History, key: str) -> str:
    """The cache file's text: the key, then each migration in the history's order."""
    return json.dumps({"key": key, "migrations": [_encoded(m) for m in history.migrations]})


def parse(text: str, key: str, apps: Sequence[AppConfig]) -> History | None:
    """The history written with this key; None for another key or anything unreadable."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        migrations = [_decoded(item) for item in data["migrations"]]
    except (ValueError, KeyError, TypeError):
        return None
    # The status needs the graph only: no ScriptDirectory (which would mean Alembic).
    return History(script=cast("ScriptDirectory", None), apps=apps, migrations=migrations)


def write(base_dir: Path, key: str, history: History) -> None:
    """Keep the history for the next status command, under the files_key taken before it
    was read; a folder that cannot be written (a read-only checkout) keeps none. Written
    aside and renamed: a reader sees all or nothing."""
    path = cache_path(base_dir)
    text = dump(history, key)
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return
        path.parent.mkdir(exist_ok=True)
        partial = path.with_name(f"{CACHE_FILE}.{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except (OSError, ValueError):  # ValueError: a file there that is not text
        return


def read(base_dir: Path, apps: Sequence[AppConfig]) -> History | None:
    """The cached history if the files are as they were when it was written, else None."""
    try:
        text = cache_path(base_dir).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return parse(text, files_key(apps), apps)


def _encoded(migration: Migration) -> dict[str, Any]:
    return {
        "app_label": migration.app_label,
        "name": migration.name,
        "revision": migration.revision,
        "down_revisions": list(migration.down_revisions),
        "dependencies": list(migration.dependencies),
        "path": str(migration.path),
        "reversible": migration.reversible,
        "replaces": list(migration.replaces),
        "atomic": migration.atomic,
    }


def _decoded(item: dict[str, Any]) -> Migration:
    strings = ("app_label", "name", "revision", "path")
    lists = ("down_revisions", "dependencies", "replaces")
    if not all(isinstance(item[k], str) for k in strings) or not all(
        isinstance(item[k], list) and all(isinstance(v, str) for v in item[k]) for k in lists
    ):
        raise TypeError("not a cached migration")
    return Migration(
        app_label=item["app_label"],
        name=item["name"],
        revision=item["revision"],
        down_revisions=tuple(item["down_revisions"]),
        dependencies=tuple(item["dependencies"]),
        path=Path(item["path"]),
        reversible=bool(item["reversible"]),
        replaces=tuple(item["replaces"]),
        atomic=bool(item["atomic"]),
    )
