"""Load the settings module, the environment and `.env` into one frozen `Settings`.

Precedence for `DATABASE_URL`: the real environment, then `.env` beside the settings
module (read with python-dotenv, never written into `os.environ`), then the settings
module, then the SQLite default.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from project.errors import SettingsError

SETTINGS_ENV_VAR = "MANAGE_SETTINGS_MODULE"
DEFAULT_DATABASE_URL = "sqlite:///db.sqlite3"
DEFAULT_SETTINGS_MODULE = "settings"  # settings.py beside manage.py

_chosen_by_setup: str | None = None  # what setup() chose, for the rest of the process


@dataclass(frozen=True)
class Settings:
    module: str
    base_dir: Path
    installed_apps: tuple[str, ...]
    database_url: str
    protect_unowned_tables: bool = True
    migrations_per_dialect: bool = False  # apps/<app>/migrations/<dialect>/ instead of one history
    makemigrations_from_database: bool = False  # compare models with the live DB, not the history
    strict_migration_checksums: bool = (
        False  # an applied migration edited since: error, not warning
    )
    connect_timeout: float = 10.0  # seconds to reach the database server
    migrate_lock_timeout: float = 600.0  # seconds to wait for another migrate to finish
    scratch_database_max_age: float = 7 * 24 * 3600.0  # an unused scratch database is dropped
    database_targets: tuple[str, ...] = ()  # the databases one (portable) history must suit
    # makemigrations writes lock-safe operations for existing tables on PostgreSQL
    # (project.autogen.lock_safe): concurrent index builds, NOT VALID then VALIDATE.
    lock_safe_migrations: bool = True
    # migrate's DDL waits at most this long for a table's lock, so that the queries queued
    # behind it wait no longer either (PostgreSQL lock_timeout, MariaDB lock_wait_timeout in
    # whole seconds); 0: not set, the server's own setting applies.
    ddl_lock_timeout: float = 1.5
    ddl_lock_retries: int = 5  # a migration that timed out is run again this many times
    ddl_retry_delay: float = 1.0  # seconds before the first retry, doubled for each next one
    # A data migration's statements are cancelled after this long (0: no limit).
    data_migration_statement_timeout: float = 0.0


def settings_module_name(explicit: str | None, environ: Mapping[str, str]) -> str:
    """`--settings` wins over the environment variable, which wins over setup()'s choice,
    as in Django."""
    name = explicit or environ.get(SETTINGS_ENV_VAR) or _chosen_by_setup
    if not name:
        raise SettingsError(
            f"No settings module given. Pass --settings=MODULE or set {SETTINGS_ENV_VAR} "
            "(from Python: call project.setup() first)."
        )
    return name


def choose_settings(settings_module: str | None = None) -> Settings:
    """This process's settings, as `django.setup()` chooses them: the argument, else
    $MANAGE_SETTINGS_MODULE, else `settings` importable from the current folder (as
    manage.py does); every later command of the process uses them."""
    global _chosen_by_setup
    name = settings_module or os.environ.get(SETTINGS_ENV_VAR) or _settings_in_current_folder()
    settings = load_settings(name)
    _chosen_by_setup = name
    return settings


def _settings_in_current_folder() -> str:
    if not (Path.cwd() / f"{DEFAULT_SETTINGS_MODULE}.py").is_file():
        raise SettingsError(
            f"No settings found: there is no {DEFAULT_SETTINGS_MODULE}.py in {Path.cwd()}. Run from "
            f"the folder of manage.py, set {SETTINGS_ENV_VAR}, or call setup('mysite.settings')."
        )
    return DEFAULT_SETTINGS_MODULE


def load_settings(
    explicit_module: str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    name = settings_module_name(explicit_module, environ)
    module = _import_settings(name)
    base_dir = Path(getattr(module, "BASE_DIR", Path(module.__file__ or ".").parent)).resolve()
    # An empty variable counts as unset, so `DATABASE_URL= python manage.py ...` falls back.
    env = {**_dotenv(base_dir / ".env"), **{k: v for k, v in environ.items() if v}}
    return Settings(
        module=name,
        base_dir=base_dir,
        installed_apps=_installed_apps(module),
        database_url=str(
            env.get("DATABASE_URL") or getattr(module, "DATABASE_URL", DEFAULT_DATABASE_URL)
        ),
        protect_unowned_tables=_bool_setting(module, "PROTECT_UNOWNED_TABLES", True),
        migrations_per_dialect=_bool_setting(module, "MIGRATIONS_PER_DIALECT", False),
        makemigrations_from_database=_bool_setting(module, "MAKEMIGRATIONS_FROM_DATABASE", False),
        strict_migration_checksums=_bool_setting(module, "STRICT_MIGRATION_CHECKSUMS", False),
        connect_timeout=_seconds_setting(module, "DATABASE_CONNECT_TIMEOUT", 10.0),
        migrate_lock_timeout=_seconds_setting(module, "MIGRATE_LOCK_TIMEOUT", 600.0),
        scratch_database_max_age=_seconds_setting(
            module, "SCRATCH_DATABASE_MAX_AGE", 7 * 24 * 3600.0
        ),
        database_targets=_database_targets(module),
        lock_safe_migrations=_bool_setting(module, "LOCK_SAFE_MIGRATIONS", True),
        ddl_lock_timeout=_seconds_setting(module, "DDL_LOCK_TIMEOUT", 1.5, zero_ok=True),
        ddl_lock_retries=_count_setting(module, "DDL_LOCK_RETRIES", 5),
        ddl_retry_delay=_seconds_setting(module, "DDL_RETRY_DELAY", 1.0, zero_ok=True),
        data_migration_statement_timeout=_seconds_setting(
            module, "DATA_MIGRATION_STATEMENT_TIMEOUT", 0.0, zero_ok=True
        ),
    )


def _dotenv(path: Path) -> dict[str, str | None]:
    """`.env`'s values; a line python-dotenv cannot parse is an error naming its number only
    (its text may hold a password), where python-dotenv would warn and drop the variable,
    so that a broken DATABASE_URL line is not silently replaced by the next default."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # imported only for a project that has a .env
    from dotenv.parser import parse_stream

    with path.open(encoding="utf-8") as stream:
        broken = [binding.original.line for binding in parse_stream(stream) if binding.error]
    if broken:
        raise SettingsError(
            f"Line {broken[0]} of {path} cannot be parsed (its text is not shown, as it may "
            "hold a password). Write it as NAME=value; quote a value that holds spaces, "
            "quotes or '#' with single quotes."
        )
    return dict(dotenv_values(path))


def _import_settings(name: str) -> ModuleType:
    # The settings module sits beside manage.py, which is sys.path[0] for `python manage.py`;
    # `call_command` from elsewhere needs the working directory too, as Django's does.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise SettingsError(
                f"Cannot import settings module '{name}': no such module. "
                f"Check --settings or {SETTINGS_ENV_VAR}."
            ) from exc
        raise SettingsError(f"Cannot import settings module '{name}': {exc}.") from exc
    except Exception as exc:
        from project.tracebacks import where

        raise SettingsError(
            f"Cannot import settings module '{name}' ({where(exc)}): {type(exc).__name__}: {exc}"
        ) from exc


def _installed_apps(module: ModuleType) -> tuple[str, ...]:
    apps = getattr(module, "INSTALLED_APPS", None)
    if not isinstance(apps, (list, tuple)) or not all(isinstance(a, str) for a in apps):
        raise SettingsError(
            f"INSTALLED_APPS in '{module.__name__}' must be a list of dotted module paths, "
            'e.g. ["apps.owners", "apps.pets"].'
        )
    return tuple(apps)


DATABASE_KINDS = ("sqlite", "postgresql", "mysql", "mariadb")


def _database_targets(module: ModuleType) -> tuple[str, ...]:
    """DATABASE_TARGETS: the databases the one migration history is meant for (beside the
    configured one), e.g. ["postgresql", "mysql"]; makemigrations holds names to the
    strictest of their limits."""
    value = getattr(module, "DATABASE_TARGETS", ())
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, str) and v.lower() in DATABASE_KINDS for v in value
    ):
        raise SettingsError(
            f"DATABASE_TARGETS in '{module.__name__}' must be a list of database kinds "
            f"({', '.join(DATABASE_KINDS)}), not {value!r}."
        )
    return tuple(dict.fromkeys(v.lower() for v in value))


def _bool_setting(module: ModuleType, name: str, default: bool) -> bool:
    value = getattr(module, name, default)
    if not isinstance(value, bool):
        raise SettingsError(f"{name} in '{module.__name__}' must be True or False, not {value!r}.")
    return value


def _seconds_setting(module: ModuleType, name: str, default: float, zero_ok: bool = False) -> float:
    """`zero_ok`: 0 is allowed (it turns the limit off)."""
    value = getattr(module, name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
        or (value == 0 and not zero_ok)
        or (zero_ok and not math.isfinite(value))  # rendered into SQL: a finite number
    ):
        kind = "a number of seconds (0 or more)" if zero_ok else "a positive number of seconds"
        raise SettingsError(f"{name} in '{module.__name__}' must be {kind}, not {value!r}.")
    return float(value)


def _count_setting(module: ModuleType, name: str, default: int) -> int:
    value = getattr(module, name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(
            f"{name} in '{module.__name__}' must be a whole number (0 or more), not {value!r}."
        )
    return value
