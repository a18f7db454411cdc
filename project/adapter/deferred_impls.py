"""Alembic's PostgreSQL support, imported only once something uses it.

`import alembic.ddl` (which every Alembic command imports) imports Alembic's support of every
database it knows. PostgreSQL's brings SQLAlchemy's PostgreSQL dialect with it (its catalog
tables alone take 45 ms): 50-90 ms here, a tenth of a 10-table `migrate` on SQLite, where
it is never used. `defer_unused` puts a placeholder module in its place before Alembic is
imported: the real module runs, in that very module object, on the first look-up of any of
its names (`from alembic.ddl.postgresql import PostgresqlImpl`, `module.X`), and `load`
runs it for a database that needs Alembic's PostgreSQL implementation (every engine for
PostgreSQL is made through project.backends.connections, which calls it).

What the module registers as it runs (the `postgresql` DDL implementation, its compilers,
`op.create_exclude_constraint`, the exclusion constraint's renderers) is registered then:
nothing uses them on another database (an exclusion constraint exists only on PostgreSQL).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from typing import Any

# {backend name: the Alembic module only that database needs, expensive to import}
DEFERRED = {"postgresql": "alembic.ddl.postgresql"}


class _Deferred(types.ModuleType):
    """A module whose code has not run yet; the first look-up of one of its names runs it."""

    def __getattr__(self, name: str) -> Any:
        # Only names the module lacks reach here. The import machinery's probes (__path__,
        # __getattr__...) must not run it; `from ... import *` asks for __all__ and does.
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(name)
        _run(self)
        return getattr(self, name)


def defer_unused(backend: str) -> None:
    """Before Alembic is imported: the modules of DEFERRED other than `backend`'s become
    placeholders. Does nothing once alembic.ddl is imported (then they are already loaded)."""
    if "alembic.ddl" in sys.modules:
        return
    package = importlib.util.find_spec("alembic")  # finds it without importing it
    if package is None or not package.submodule_search_locations:
        return
    folder = next(iter(package.submodule_search_locations))
    for dialect, name in DEFERRED.items():
        if dialect == backend or name in sys.modules:
            continue
        path = f"{folder}/{name.split('.', 1)[1].replace('.', '/')}.py"
        if not os.path.isfile(path):  # an Alembic laid out otherwise: imported as it says
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _Deferred
        sys.modules[name] = module


def load(backend: str) -> None:
    """Run `backend`'s deferred module now, if it is still a placeholder."""
    name = DEFERRED.get(backend)
    module = sys.modules.get(name) if name else None
    if isinstance(module, _Deferred):
        _run(module)


def is_deferred(backend: str) -> bool:
    name = DEFERRED.get(backend)
    return name is not None and isinstance(sys.modules.get(name), _Deferred)


def _run(module: types.ModuleType) -> None:
    module.__class__ = types.ModuleType  # as any module from here on, even if its code fails
    spec = module.__spec__
    assert spec is not None and spec.loader is not None
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)  # as a failed import leaves it: the next one tries again
        raise
