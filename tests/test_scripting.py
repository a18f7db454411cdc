"""What deploy scripts and pipes need: Django's script options, and a process that leaves
without losing anything (files an app command left open, output cut by `| head`)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from conftest import Project, assert_error, write_migration

from project.cli.main import expand_help

TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"


def test_migrate_check_noinput_and_skip_checks(sqlite_project: Project) -> None:
    project = sqlite_project
    unapplied = project.run("migrate", "--check")
    assert unapplied.returncode == 1, str(unapplied)
    assert unapplied.stdout == (
        "3 unapplied migrations:\n  owners.0001_initial\n  pets.0001_initial\n"
        "  owners.0002_lowercase_emails\n"
    )
    assert project.versions() == set()  # --check applies nothing
    for spelling in ("--noinput", "--no-input"):
        assert project.run("migrate", "pets", spelling).returncode == 0
    project.run("migrate", "--noinput", check=True)
    assert project.run("migrate", "--check", check=True).stdout == "No unapplied migrations.\n"
    # --skip-checks skips the graph's checks (here: a missing cross-app dependency).
    write_migration(
        project,
        "owners",
        "0003_address",
        "owners_0002_lowercase_emails",
        'op.create_table("owners_address", sa.Column("id", sa.Integer, primary_key=True))',
    )
    write_migration(
        project,
        "pets",
        "0002_kennel",
        "pets_0001_initial",
        'op.create_table("pets_kennel", sa.Column("id", sa.Integer, primary_key=True),\n'
        '    sa.Column("address_id", sa.Integer, sa.ForeignKey("owners_address.id")))',
    )
    assert_error(project.run("migrate"), "does not depend on it")
    assert project.run("migrate", "--check", "--skip-checks").returncode == 1
    project.run("migrate", "--skip-checks", check=True)
    assert {"owners_address", "pets_kennel"} <= project.tables()
    # Conflicting migrations are refused all the same (as in Django).
    kennel = project.file("apps/pets/migrations/0002_kennel.py")
    kennel.with_name("0002_other.py").write_text(
        kennel.read_text().replace('"pets_0002_kennel"', '"pets_0002_other"')
    )
    assert_error(project.run("migrate", "--skip-checks"), "Conflicting migrations")


def test_showmigrations_list_help_and_version(sqlite_project: Project) -> None:
    project = sqlite_project
    listed = project.run("showmigrations", check=True).stdout
    assert project.run("showmigrations", "--list", check=True).stdout == listed
    assert (
        project.run("showmigrations", "-l", "pets", check=True).stdout
        == "pets\n [ ] 0001_initial\n"
    )
    assert_error(project.run("showmigrations", "-l", "-p"), "choose one", code=2)
    assert project.run("help", "migrate", check=True).stdout == (
        project.run("migrate", "--help", check=True).stdout
    )
    assert project.run("help", check=True).stdout == project.run("--help", check=True).stdout
    assert project.run("--version", check=True).stdout == f"{version('manage-project')}\n"
    assert (
        project.run("migrate", "--version", check=True).stdout == f"{version('manage-project')}\n"
    )
    assert "--version" in project.run("--help", check=True).stdout
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)
    squash = project.run("squashmigrations", "pets", "0002", "--no-input", "--dry-run")
    assert squash.returncode == 0, str(squash)


def test_help_expands_to_the_command_s_help() -> None:
    assert expand_help(["help"]) == ["--help"]
    assert expand_help(["help", "migrate"]) == ["migrate", "--help"]
    assert expand_help(["--settings", "s", "help", "migrate", "-h"]) == [
        "--settings",
        "s",
        "migrate",
        "--help",
    ]
    assert expand_help(["migrate", "help"]) == ["migrate", "help"]  # an argument of migrate


def test_merge_without_a_terminal_and_a_no(sqlite_project: Project) -> None:
    project = sqlite_project
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)
    toy = project.file("apps/pets/migrations/0002_toy.py")
    toy.with_name("0002_other.py").write_text(
        toy.read_text().replace('"pets_0002_toy"', '"pets_0002_other"')
    )
    before = project.snapshot()
    unanswered = project.run("makemigrations", "--merge")  # no terminal: stdin is empty
    assert unanswered.returncode == 1 and "Traceback" not in unanswered.stderr, str(unanswered)
    prompt, error = unanswered.stderr.strip().splitlines()
    assert prompt.startswith("Do you want to merge these migration branches?")
    assert error.startswith("Error: ") and "no input to answer" in error
    assert "run 'makemigrations --merge --noinput'" in error
    declined = project.run("makemigrations", "--merge", answers="n\n", check=True)
    assert "Nothing written: app 'pets' keeps its diverged migrations." in declined.stdout
    assert project.snapshot() == before


EXPORT = '''
"""Writes the pets' names to a file it keeps open (as a logger or an exporter may)."""

_out = None


def command(path: str) -> None:
    global _out
    _out = open(path, "w")  # noqa: SIM115 - never closed: finalisation must flush it
    _out.write("Rex\\nTom\\n")
'''


def test_a_file_an_app_command_left_open_is_written(sqlite_project: Project) -> None:
    project = sqlite_project
    project.file("apps/pets/commands/exportnames.py").write_text(EXPORT)
    project.run("exportnames", "names.txt", check=True)
    assert project.file("names.txt").read_text() == "Rex\nTom\n"


def test_a_cut_stdout_exits_141_and_the_work_is_done(sqlite_project: Project) -> None:
    """`manage.py migrate | head -1`: the reader goes at once; migrate still finishes."""
    project = sqlite_project
    for args in (["migrate"], ["showmigrations"]):
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=project.path,
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader is gone before anything is written
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 141, stderr
        assert stderr == ""
    assert project.versions() == {"owners_0002_lowercase_emails", "pets_0001_initial"}


def test_a_cut_stdout_keeps_a_failure_s_status(sqlite_project: Project) -> None:
    """`migrate --check | true` with migrations unapplied: 1, not 141."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "migrate", "--check"],
        cwd=sqlite_project.path,
        env=sqlite_project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    assert process.wait(timeout=120) == 1, process.stderr.read()
