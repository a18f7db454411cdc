"""A project of one's own: the framework installed from a wheel (not editable) into a fresh
virtual environment, `manage-project startproject`, then the Django workflow in it; and
the public Python API (`project.setup`, `call_command`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ISOLATED_VARIABLES, REPO, Project, Result, assert_error

from project.services.startproject import template_files

MODEL = """
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from project import Model


class Post(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
"""


@dataclass
class Installed:
    """A virtual environment with the framework installed from its wheel."""

    bin: Path
    site_packages: Path

    def run(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
        completed = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check:
            assert completed.returncode == 0, f"{completed.stdout}\n{completed.stderr}"
        return completed


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """pip builds the wheel (as `pip install .` or a git URL would) and installs it, without
    dependencies, into a new venv; the dependencies are this test run's, through a .pth
    (which does not bring this checkout's editable install along: nested .pth files of a
    path added that way are not read)."""
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"  # built from a copy: a build leaves build/ and *.egg-info behind
    shutil.copytree(
        REPO / "project", source / "project", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "-w", str(root / "wheel"), str(source)], check=True
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site_packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next((root / "wheel").glob("*.whl"))
    subprocess.run(
        [*pip, "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)], check=True
    )
    yield Installed(root / "venv" / "bin", site_packages)


def test_the_installed_framework_is_not_this_checkout(installed: Installed, tmp_path: Path) -> None:
    found = installed.run("python", "-c", "import project; print(project.__file__)", cwd=tmp_path)
    assert Path(found.stdout.strip()).is_relative_to(installed.site_packages)


def test_startproject_then_the_whole_workflow(installed: Installed, tmp_path: Path) -> None:
    made = installed.run("manage-project", "startproject", "mysite", cwd=tmp_path)
    site = tmp_path / "mysite"
    assert "Created project 'mysite'" in made.stdout
    assert sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()) == [
        ".env.example",
        ".gitignore",
        "apps/__init__.py",
        "manage.py",
        "migrations/env.py",
        "migrations/script.py.mako",
        "settings.py",
    ]
    ignored = (site / ".gitignore").read_text().splitlines()
    assert {"db.sqlite3", ".manage_cache/", ".ruff_cache/", ".env"} <= set(ignored)
    assert "mysite" in (site / ".env.example").read_text()

    installed.run("python", "manage.py", "startapp", "blog", cwd=site)
    assert 'INSTALLED_APPS = ["apps.blog"]' in (site / "settings.py").read_text()
    (site / "apps" / "blog" / "models.py").write_text(MODEL)
    made = installed.run("python", "manage.py", "makemigrations", cwd=site)
    assert "+ Create table blog_post" in made.stdout
    migrated = installed.run("python", "manage.py", "migrate", cwd=site)
    assert "Applying blog.0001_initial... OK" in migrated.stdout
    shown = installed.run("python", "manage.py", "showmigrations", cwd=site)
    assert shown.stdout == "blog\n [X] 0001_initial\n"
    clean = installed.run("python", "manage.py", "makemigrations", "--check", cwd=site)
    assert "No changes detected" in clean.stdout
    assert (site / "db.sqlite3").is_file()


def test_python_m_project_writes_into_an_empty_directory(
    installed: Installed, tmp_path: Path
) -> None:
    (tmp_path / "here").mkdir()
    installed.run("python", "-m", "project", "startproject", "shop", "here", cwd=tmp_path)
    assert (tmp_path / "here" / "manage.py").is_file()
    assert "shop project" in (tmp_path / "here" / "settings.py").read_text()
    helped = installed.run("python", "-m", "project", "--help", cwd=tmp_path)
    assert "startproject" in helped.stdout and "python -m project" in helped.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("startproject", "taken"), "already exists and is not empty"),
        (("startproject", "my-site"), "not a valid project name"),
        (("startproject", "class"), "not a valid project name"),
        (("startproject", "sqlalchemy"), "name of an existing Python module"),
        (("startproject", "fine", "taken"), "already exists and is not empty"),
    ],
)
def test_startproject_refuses_and_changes_nothing(
    installed: Installed, tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    before = sorted(tmp_path.rglob("*"))
    refused = installed.run("manage-project", *args, cwd=tmp_path, check=False)
    assert_error(_result(refused), fragment, code=2)  # a usage error, as startapp's
    assert sorted(tmp_path.rglob("*")) == before
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_the_template_is_this_repository_s_example_project() -> None:
    """One source: the files startproject writes are the example project's own."""
    written = {str(target): source for source, target in template_files()}
    for shared in ("manage.py", "migrations/env.py", "migrations/script.py.mako"):
        assert written[shared].read_text() == (REPO / shared).read_text(), shared


def test_setup_finds_the_settings_in_the_current_folder(sqlite_project: Project) -> None:
    """The README's call_command snippet, run as written from a plain `python`."""
    snippet = re.search(
        r"```python\n(from project import .*?)```", (REPO / "README.md").read_text(), re.DOTALL
    )
    assert snippet is not None
    sqlite_project.run("migrate", check=True)
    env = {k: v for k, v in sqlite_project.env.items() if k != "DATABASE_URL"}
    ran = subprocess.run(
        [sys.executable, "-c", snippet.group(1) + "\nprint(apps)"],
        check=False,
        cwd=sqlite_project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert "Unapplying pets.0001_initial... OK" in ran.stdout
    assert sqlite_project.tables() >= {"owners_owner"}
    assert "pets_pet" not in sqlite_project.tables()


def test_call_command_without_setup_says_what_to_do(tmp_path: Path) -> None:
    code = (
        "import project\n"
        "try:\n    project.call_command('showmigrations')\n"
        "except project.ProjectError as exc:\n    print(type(exc).__name__, exc)\n"
        "try:\n    project.setup()\n"
        "except project.ProjectError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
    ran = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    first, second = ran.stdout.splitlines()
    assert first.startswith("SettingsError No settings module given") and "setup()" in first
    assert (
        second.startswith("SettingsError No settings found") and "MANAGE_SETTINGS_MODULE" in second
    )


def test_import_project_is_cheap_and_exports_the_api() -> None:
    code = (
        "import sys, project\n"
        "assert 'sqlalchemy' not in sys.modules, 'import project loaded SQLAlchemy'\n"
        "from project import Model, ProjectError, call_command, data_migration, setup\n"
        "import project.db, project.errors, project.cli.registry, project.data\n"
        "assert Model is project.db.Model and ProjectError is project.errors.ProjectError\n"
        "assert call_command is project.cli.registry.call_command\n"
        "assert data_migration is project.data.data_migration\n"
        "from project import session\n"
        "import project.database, project.backends.connections\n"
        "assert session is project.backends.connections.session is project.database.session\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr


def _result(completed: subprocess.CompletedProcess[str]) -> Result:
    return Result(completed.returncode, completed.stdout, completed.stderr)
