"""The same synthetic schema as bench/generate.py, as a plain Alembic project and as a
Django project, for the benchmark to compare with."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ALEMBIC_MODEL = '''

class Item{n}(Base):
    __tablename__ = "item{n}"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2), server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)
    {reference}
'''
ALEMBIC_HEADER = '''from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, MetaData, Numeric, String, Text, false, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })
'''
# What `alembic init` writes, reduced to the online path, with the URL from the environment.
ALEMBIC_ENV = '''import os

from alembic import context
from sqlalchemy import create_engine

import models

config = context.config
engine = create_engine(os.environ["DB_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=models.Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
'''
ALEMBIC_INI = """[alembic]
script_location = %(here)s/alembic
prepend_sys_path = .
path_separator = os
"""

DJANGO_MODEL = '''

class Item{n}(models.Model):
    name = models.CharField(max_length=50, db_index=True)
    code = models.CharField(max_length=20, unique=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2, db_default=0)
    active = models.BooleanField(db_default=False)
    created = models.DateTimeField(db_default=Now())
    note = models.TextField(null=True)
    {reference}
'''
DJANGO_SETTINGS = '''import os

SECRET_KEY = "bench"
INSTALLED_APPS = {apps!r}
USE_TZ = False
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
if os.environ.get("DJANGO_DB_NAME"):
    DATABASES = {{"default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["DJANGO_DB_NAME"],
        "USER": os.environ["DJANGO_DB_USER"],
        "PASSWORD": os.environ["DJANGO_DB_PASSWORD"],
        "HOST": os.environ["DJANGO_DB_HOST"],
        "PORT": os.environ["DJANGO_DB_PORT"],
    }}}}
else:
    DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJANGO_SQLITE"]}}}}
'''
DJANGO_MANAGE = '''import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
'''


def layout(tables: int, apps: int) -> list[list[int]]:
    """Which tables each app holds (the same split as bench/generate.py)."""
    return [list(range(i, tables, apps)) for i in range(apps)]


def alembic_project(dest: Path, tables: int, apps: int, migrations: int = 1) -> Path:
    """All tables in one models module and one versions folder, as Alembic users have them."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "alembic" / "versions").mkdir(parents=True)
    (dest / "alembic.ini").write_text(ALEMBIC_INI)
    (dest / "alembic" / "env.py").write_text(ALEMBIC_ENV)
    import alembic

    shutil.copy(Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako", dest / "alembic")
    (dest / "models.py").write_text(ALEMBIC_HEADER)
    per_app = layout(tables, apps)
    env = {**os.environ, "DB_URL": f"sqlite:///{dest / 'gen.sqlite3'}"}
    order = _creation_order(per_app)
    for batch in range(migrations):
        chunk = order[batch * len(order) // migrations : (batch + 1) * len(order) // migrations]
        with (dest / "models.py").open("a") as models:
            for n in chunk:
                models.write(ALEMBIC_MODEL.format(n=n, reference=_reference(n, per_app, "item{}", alembic=True)))
        _alembic(dest, env, "upgrade", "heads")
        _alembic(dest, env, "revision", "--autogenerate", "-m", f"step {batch}")
    (dest / "gen.sqlite3").unlink(missing_ok=True)
    return dest


def django_project(dest: Path, tables: int, apps: int, migrations: int = 1) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    labels = [f"app{i:03d}" for i in range(apps)]
    (dest / "settings.py").write_text(DJANGO_SETTINGS.format(apps=labels))
    (dest / "manage.py").write_text(DJANGO_MANAGE)
    for label in labels:
        (dest / label / "migrations").mkdir(parents=True)
        (dest / label / "__init__.py").write_text("")
        (dest / label / "migrations" / "__init__.py").write_text("")
        (dest / label / "models.py").write_text("from django.db import models\nfrom django.db.models.functions import Now\n")
    per_app = layout(tables, apps)
    env = {**os.environ, "DJANGO_SQLITE": str(dest / "gen.sqlite3")}
    for batch in range(migrations):
        for index, label in enumerate(labels):
            numbers = per_app[index]
            chunk = numbers[batch * len(numbers) // migrations : (batch + 1) * len(numbers) // migrations]
            with (dest / label / "models.py").open("a") as models:
                for n in chunk:
                    models.write(DJANGO_MODEL.format(n=n, reference=_django_reference(n, index, labels, per_app)))
        subprocess.run([sys.executable, "manage.py", "makemigrations", "-v", "0"], cwd=dest, env=env, check=True)
    return dest


def _creation_order(per_app: list[list[int]]) -> list[int]:
    """Tables in an order where each one's parent comes first."""
    return [n for numbers in per_app for n in numbers]


def _reference(n: int, per_app: list[list[int]], name: str, alembic: bool) -> str:
    for index, numbers in enumerate(per_app):
        if n in numbers:
            position = numbers.index(n)
            if position > 0:
                target = name.format(numbers[position - 1])
            elif index > 0:
                target = name.format(per_app[index - 1][0])
            else:
                return "parent_id: Mapped[int | None]"
            return f'parent_id: Mapped[int | None] = mapped_column(ForeignKey("{target}.id"), index=True)'
    raise ValueError(n)


def _django_reference(n: int, app: int, labels: list[str], per_app: list[list[int]]) -> str:
    numbers = per_app[app]
    position = numbers.index(n)
    if position > 0:
        target = f"Item{numbers[position - 1]}"
    elif app > 0:
        target = f"{labels[app - 1]}.Item{per_app[app - 1][0]}"
    else:
        return "parent_id = models.IntegerField(null=True)"
    return f'parent = models.ForeignKey("{target}", null=True, on_delete=models.DO_NOTHING, related_name="+")'


def _alembic(dest: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "alembic", *args], cwd=dest, env=env, check=True, capture_output=True)
