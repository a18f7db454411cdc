"""The command line around the commands: help, settings, .env, verbosity, app commands, call_command."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import Project, assert_error


def test_help_lists_every_command_grouped_by_app(sqlite_project: Project) -> None:
    out = sqlite_project.run("--help", env={"COLUMNS": "120"}, check=True).stdout
    for command in ("makemigrations", "migrate", "showmigrations", "importpets"):
        assert command in out
    assert "\nApp 'pets':\n  importpets" in out and "\nMigrations:\n  makemigrations" in out
    assert (
        sqlite_project.run(env={"COLUMNS": "120"}).stdout.strip() == out.strip()
    )  # no arguments: the same help


def test_help_imports_no_sqlalchemy_alembic_or_models(sqlite_project: Project) -> None:
    code = (
        "import sys, json\n"
        "from project.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic', 'mako')"
        " or (m.startswith('apps.') and m.endswith('.models'))]\n"
        "sys.stderr.write(json.dumps(heavy))\n"
    )
    result = sqlite_project.python(
        f"import os; os.environ['MANAGE_SETTINGS_MODULE'] = 'settings'\n{code}"
    )
    assert result.returncode == 0, str(result)
    assert json.loads(result.stderr) == []


def test_global_options_before_or_after_the_command(sqlite_project: Project) -> None:
    sqlite_project.file("other_settings.py").write_text('INSTALLED_APPS = ["apps.owners"]\n')
    after = sqlite_project.run("showmigrations", "--settings=other_settings", check=True).stdout
    before = sqlite_project.run("--settings", "other_settings", "showmigrations", check=True).stdout
    assert after == before == "owners\n [ ] 0001_initial\n [ ] 0002_lowercase_emails\n"
    by_env = sqlite_project.run(
        "showmigrations", env={"MANAGE_SETTINGS_MODULE": "other_settings"}, check=True
    )
    assert by_env.stdout == after
    assert sqlite_project.run("migrate", "-v", "0", check=True).stdout == ""
    assert sqlite_project.versions() == {"owners_0002_lowercase_emails", "pets_0001_initial"}


def test_database_url_from_dotenv_and_environment(sqlite_project: Project) -> None:
    assert "dotenv" not in _imported(sqlite_project, "showmigrations")  # no .env: not imported
    env_file_db = sqlite_project.path / "from_dotenv.sqlite3"
    sqlite_project.file(".env").write_text(f"DATABASE_URL=sqlite:///{env_file_db}\n")
    sqlite_project.run("migrate", "owners", env={"DATABASE_URL": ""}, check=True)
    assert env_file_db.exists()
    assert "dotenv" in _imported(sqlite_project, "showmigrations")
    sqlite_project.run("migrate", check=True)  # the real environment wins over .env
    assert sqlite_project.versions() == {"owners_0002_lowercase_emails", "pets_0001_initial"}


def _imported(project: Project, *command: str) -> set[str]:
    """The modules a command imported (`python -X importtime`)."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "manage.py", *command],
        cwd=project.path,
        env=project.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return {
        line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if "|" in line
    }


def test_default_database_is_db_sqlite3_beside_manage_py(sqlite_project: Project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    del sqlite_project.env["DATABASE_URL"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        f"import os, sys; sys.path.insert(0, {str(sqlite_project.path)!r}); "
        "os.environ['MANAGE_SETTINGS_MODULE'] = 'settings'\n"
        "from project.cli.registry import call_command\n"
        "call_command('migrate')\n"
    )
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=elsewhere,
        env=sqlite_project.env,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert (sqlite_project.path / "db.sqlite3").exists() and not (elsewhere / "db.sqlite3").exists()


def test_call_command_from_python(sqlite_project: Project) -> None:
    code = (
        "import os; os.environ['MANAGE_SETTINGS_MODULE'] = 'settings'\n"
        "from project.cli.registry import call_command\n"
        "from project.errors import ProjectError\n"
        "plan = call_command('migrate')\n"
        "print([s.migration.key for s in plan.steps])\n"
        "call_command('migrate', 'pets', 'zero', verbosity=0)\n"
        "apps = call_command('showmigrations', 'pets')\n"
        "print([(m.migration.name, m.applied) for m in apps[0].migrations])\n"
        "planned = call_command('migrate', plan=True, verbosity=0)\n"
        "print(len(planned.steps))\n"
        "try:\n    call_command('migrate', 'nope')\nexcept ProjectError as e:\n    print('error:', e)\n"
        "try:\n    call_command('nosuchcommand')\nexcept ProjectError as e:\n    print('error:', e)\n"
    )
    result = sqlite_project.python(code)
    assert result.returncode == 0, str(result)
    lines = result.stdout.strip().splitlines()
    assert "['owners.0001_initial', 'pets.0001_initial', 'owners.0002_lowercase_emails']" in lines
    assert "[('0001_initial', False)]" in lines
    assert lines[-3] == "1"  # pets.0001_initial
    assert lines[-2].startswith("error: App 'nope' could not be found")
    assert lines[-1] == "error: Unknown command: 'nosuchcommand'."


def test_app_command_imports_pets(sqlite_project: Project) -> None:
    sqlite_project.run("migrate", check=True)
    sqlite_project.execute(
        "INSERT INTO owners_owner (name, email) VALUES ('Ann', 'ann@example.com')"
    )
    csv_file = sqlite_project.path / "pets.csv"
    csv_file.write_text(
        "name,species,birthdate,sex,condition,owner_email\n"
        "Rex,dog,2020-01-02,m,good,ann@example.com\nTom,cat,,f,,ann@example.com\n"
    )
    assert (
        sqlite_project.run("importpets", "pets.csv", "--dry-run", check=True).stdout
        == "Would import 2 pet(s) from pets.csv.\n"
    )
    assert sqlite_project.execute("SELECT count(*) FROM pets_pet") == [(0,)]
    assert (
        sqlite_project.run("importpets", "pets.csv", check=True).stdout
        == "Imported 2 pet(s) from pets.csv.\n"
    )
    assert sqlite_project.execute("SELECT name, birthdate FROM pets_pet ORDER BY id") == [
        ("Rex", "2020-01-02"),
        ("Tom", None),
    ]

    csv_file.write_text(
        "name,species,birthdate,sex,condition,owner_email\nMax,dog,2021-13-01,m,,ann@example.com\n"
    )
    assert_error(
        sqlite_project.run("importpets", "pets.csv"),
        "Line 2: birthdate '2021-13-01' is not YYYY-MM-DD",
    )
    csv_file.write_text(
        "name,species,birthdate,sex,condition,owner_email\nMax,dog,,m,,bob@example.com\n"
    )
    assert_error(
        sqlite_project.run("importpets", "pets.csv"),
        "Line 2: no owner has the email 'bob@example.com'",
    )
    assert sqlite_project.execute("SELECT count(*) FROM pets_pet") == [(2,)]


def test_app_command_that_fails_to_import_only_fails_when_run(sqlite_project: Project) -> None:
    sqlite_project.file("apps/pets/commands/broken.py").write_text("import nonexistent_module\n")
    assert "broken" in sqlite_project.run("--help", env={"COLUMNS": "200"}, check=True).stdout
    sqlite_project.run("showmigrations", check=True)
    assert_error(
        sqlite_project.run("broken"),
        "Cannot load command module 'apps.pets.commands.broken'",
        "nonexistent_module",
    )


def test_usage_errors_are_short(sqlite_project: Project) -> None:
    result = sqlite_project.run("migrate", "--no-such-option")
    assert (
        result.returncode == 2
        and "No such option" in result.stderr
        and "Traceback" not in result.stderr
    )
    result = sqlite_project.run("nosuchcommand")
    assert result.returncode == 2 and "No such command" in result.stderr


def test_status_commands_never_import_the_models(sqlite_project: Project) -> None:
    code = (
        "import os, sys; os.environ['MANAGE_SETTINGS_MODULE'] = 'settings'\n"
        "from project.cli.registry import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "call_command('showmigrations', verbosity=0)\n"
        "call_command('migrate', plan=True, verbosity=0)\n"
        "call_command('migrate', 'pets', 'zero', verbosity=0)\n"
        "print(sorted(m for m in sys.modules if m.startswith('apps.') and m.endswith('.models')))\n"
    )
    result = sqlite_project.python(code)
    assert result.returncode == 0, str(result)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_quick_exit_still_does_what_exiting_must(sqlite_project: Project) -> None:
    """manage.py skips Python's teardown (0.1-0.2 s); atexit handlers, threads still
    running, buffered output and exit codes are as a normal exit has them."""
    sqlite_project.file("apps/pets/commands/chores.py").write_text(
        "import atexit, sys, threading, time\n"
        "from pathlib import Path\n\n"
        "def command(code: int = 0, thread: bool = False) -> None:\n"
        '    atexit.register(Path("atexit.txt").write_text, "ran")\n'
        "    if thread:\n"
        '        threading.Thread(target=lambda: (time.sleep(0.5), Path("thread.txt").write_text("done"))).start()\n'
        '    sys.stdout.write("x" * 200_000)  # more than a pipe holds: flushed at exit\n'
        "    sys.exit(code)\n"
    )
    result = sqlite_project.run("chores", "--code", "3")
    assert result.returncode == 3 and result.stdout == "x" * 200_000
    assert (sqlite_project.path / "atexit.txt").read_text() == "ran"
    result = sqlite_project.run("chores", "--thread")
    assert result.returncode == 0 and result.stdout == "x" * 200_000
    assert (sqlite_project.path / "thread.txt").read_text() == "done"


def test_commands_do_not_import_pygments(sqlite_project: Project) -> None:
    """Mako would load Pygments (25-40 ms) to colour error pages that are never shown."""
    for command in (["showmigrations"], ["migrate"], ["makemigrations", "--check", "--no-cache"]):
        imported = _imported(sqlite_project, *command)
        assert "mako.exceptions" in imported  # Alembic was imported,
        assert not any("pygments" in m for m in imported)  # and Pygments was not
