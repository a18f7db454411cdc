"""A no-change `makemigrations --check` that needs no work when nothing changed.

The answer of comparing the models with the migration history depends only on source
files (models, migrations, whatever they import in the project), the settings that shape
the comparison, the database kind and the library versions. When all of those are as they
were at the last check that found no changes, the answer is known: no SQLAlchemy import,
no models, no database. Any edit anywhere in the project's Python files misses the cache.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from project.settings import Settings

MARKER_PREFIX = "nochanges-"
_SKIPPED_FOLDERS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".manage_cache",
    ".tox",
}
_PACKAGES = ("sqlalchemy", "alembic", "typer", "alembic-postgresql-enum")


def fingerprint(settings: Settings, labels: Iterable[str]) -> str:
    from project.apps import dialect_folder

    digest = hashlib.sha256()
    framework = Path(__file__).resolve().parent
    for root in (settings.base_dir, framework):
        for path in _sources(root):
            digest.update(f"{path.relative_to(root)}\0".encode())
            digest.update(path.read_bytes())
    facts = [
        ",".join(labels),
        dialect_folder(settings.database_url),
        repr(settings.installed_apps),
        repr((settings.protect_unowned_tables, settings.migrations_per_dialect)),
    ]
    facts.extend(package_versions(_PACKAGES))
    digest.update("\0".join(facts).encode())
    return digest.hexdigest()[:32]


def package_versions(packages: Iterable[str]) -> list[str]:
    """`name=version` of each installed distribution (`name=-` when it is not): cache keys
    change when a library that shapes the answer is upgraded. Found as importlib.metadata
    finds them (the first `*.dist-info` or `*.egg-info` folder on sys.path), without its
    cost: 40 ms here, a fifth of a whole no-op check."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, or a folder that is gone
            continue
        for name in names:
            stem, _, suffix = name.rpartition(".")
            if suffix in ("dist-info", "egg-info"):
                project, _, version = stem.partition("-")
                if _distribution_key(project) not in found:
                    found[_distribution_key(project)] = version or _metadata_version(
                        Path(entry or ".", name)
                    )
    return [f"{package}={found.get(_distribution_key(package), '-')}" for package in packages]


def _metadata_version(folder: Path) -> str:
    """The `Version:` header of a folder whose name does not carry it (setuptools' egg-info)."""
    for metadata in (folder / "METADATA", folder / "PKG-INFO"):
        try:
            for line in metadata.read_text(errors="replace").splitlines():
                if line.startswith("Version:"):
                    return line.partition(":")[2].strip()
                if not line:  # the headers end at the first blank line
                    break
        except OSError:
            continue
    return "?"


def _distribution_key(name: str) -> str:
    """PEP 503's normalised name: `Alembic_Postgresql.Enum` and `alembic-postgresql-enum` agree."""
    return name.lower().replace("_", "-").replace(".", "-")


def known_unchanged(settings: Settings, key: str) -> bool:
    return (_folder(settings) / f"{MARKER_PREFIX}{key}").exists()


def remember_unchanged(settings: Settings, key: str) -> None:
    folder = _folder(settings)
    folder.mkdir(exist_ok=True)
    for old in folder.glob(f"{MARKER_PREFIX}*"):
        old.unlink(missing_ok=True)
    (folder / f"{MARKER_PREFIX}{key}").touch()


def _folder(settings: Settings) -> Path:
    from project.engine.scratch import CACHE_FOLDER

    return settings.base_dir / CACHE_FOLDER


def _sources(root: Path) -> Iterator[Path]:
    """The Python files and migration templates below `root`, in a stable order, skipping
    virtual environments and caches."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            s
            for s in subfolders
            if s not in _SKIPPED_FOLDERS and not (Path(folder, s) / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith((".py", ".mako")) or name == ".env":
                yield Path(folder, name)
